import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { LogLine } from './log-sink';

const ROOT = path.resolve(__dirname, '../..');

/** The server from its TypeScript source. */
export const FROM_SOURCE = [process.execPath, '-r', 'ts-node/register/transpile-only', 'src/main.ts'];
/** The compiled server, as production runs it (after `npm run build`). */
export const COMPILED = [process.execPath, 'dist/src/main.js'];

/** The settings every spawned server gets unless told otherwise. */
function serverEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env };
}

export interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the server with only the given settings until it exits by itself (a start that fails), without
 * blocking this process (stand-ins in it answer meanwhile). uid/gid: run as that user (from root).
 */
export function runUntilExit(
  env: Record<string, string>,
  options: { uid?: number; gid?: number; command?: string[] } = {},
): Promise<Finished> {
  const [file, ...args] = options.command ?? FROM_SOURCE;
  const proc = spawn(file, args, {
    cwd: ROOT,
    env: serverEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export interface ServerProcess {
  port: number;
  /** The server's own process id, from its log (with `npm start`, proc is npm's). */
  pid: number;
  url: string;
  proc: ChildProcess;
  logs: LogLine[];
  waitFor(match: (l: LogLine) => boolean): Promise<LogLine>;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
}

/**
 * Starts the server in its own process (from source unless another command is given, e.g. COMPILED or
 * `npm start`) and waits until it listens.
 */
export async function spawnServer(
  env: Record<string, string>,
  command: string[] = FROM_SOURCE,
): Promise<ServerProcess> {
  const [file, ...args] = command;
  const proc = spawn(file, args, { cwd: ROOT, env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  readline.createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    waiters = waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const waitFor = (match: (l: LogLine) => boolean) => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then((code) =>
        reject(new Error(`server exited (${code}) before the awaited log line:\n${stderr}`)),
      );
    });
  };
  const listening = await waitFor((l) => l.event === 'server.listening');
  const port = Number(listening.port);
  const pid = Number(listening.pid);
  return { port, pid, url: `http://127.0.0.1:${port}`, proc, logs, waitFor, exited };
}
