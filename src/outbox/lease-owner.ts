import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/**
 * Who holds a lease: `<host>:<pid>:<random>` for the worker, then `:<claim number>` or `:h` (handed jobs).
 * A restarted process on the same host can tell from it that the holder is no longer running and take its
 * jobs at once, instead of waiting for their leases to run out (as TempFiles does for temporary uploads).
 */
export interface Worker {
  host: string;
  pid: number;
  random: string;
}

/**
 * The host part: the host name, and where Linux says so the process's pid namespace, so that two
 * containers sharing a host name (host networking) but not their process ids never judge each other's
 * pids. Cut to 32 characters, so that every lease owner made from it fits push_jobs.lease_owner (64): a
 * Kubernetes pod name can take 63, and PostgreSQL refuses a longer value (every send would fail).
 */
export function hostIdentity(hostname: string, pidNamespace: string | null): string {
  const name = hostname.replace(/[^A-Za-z0-9.-]/g, '-') || 'host';
  return pidNamespace ? `${name.slice(0, 21)}~${pidNamespace.slice(0, 10)}` : name.slice(0, 32);
}

function pidNamespace(): string | null {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1] ?? null;
  } catch {
    return null; // not Linux, or /proc not mounted
  }
}

export function workerIdOf(host: string, pid: number, random: string): string {
  return `${host.slice(0, 32)}:${pid}:${random}`;
}

/** Drawn once per process: every outbox of this process (tests run several) is alive while it is. */
const PROCESS_RANDOM = crypto.randomBytes(4).toString('hex');
let outboxes = 0;

/** This process's host part of a lease owner. */
export function localHost(): string {
  return hostIdentity(os.hostname(), pidNamespace());
}

/** The worker id of a new outbox in this process. */
export function newWorker(): Worker & { id: string } {
  outboxes += 1;
  const worker = {
    host: localHost(),
    pid: process.pid,
    // A second outbox in one process (tests) gets its own id, and the same process part.
    random: outboxes === 1 ? PROCESS_RANDOM : `${PROCESS_RANDOM}.${outboxes}`,
  };
  return { ...worker, id: workerIdOf(worker.host, worker.pid, worker.random) };
}

/** The worker a lease owner names, or null when it is not one of ours (a hand-written owner, say). */
export function parseOwner(owner: string): Worker | null {
  const parts = owner.split(':');
  if (parts.length < 4) return null;
  const [pid, random] = parts.slice(-3, -1);
  const host = parts.slice(0, -3).join(':');
  if (!host || !/^\d+$/.test(pid) || !random) return null;
  return { host, pid: Number(pid), random };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * True when the lease owner is a worker on this host (and pid namespace) that is no longer running: its
 * pid is gone, or it is this very pid with another random part (a restart that got the same pid, as in a
 * container). A pid taken since by another process reads as alive: that lease is waited out.
 */
export function ownerGone(
  owner: string,
  me: Worker,
  alive: (pid: number) => boolean = processAlive,
): boolean {
  const w = parseOwner(owner);
  if (!w || w.host !== me.host) return false;
  if (w.pid === me.pid) return w.random.split('.')[0] !== me.random.split('.')[0];
  return !alive(w.pid);
}
