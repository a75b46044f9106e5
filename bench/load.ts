import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { Pool } from 'undici';

/** One request a client repeats; answers the bytes it moved (upload or download) or throws. */
export type Job = (pool: Pool, client: number) => Promise<number>;

export interface CellResult {
  clients: number;
  seconds: number;
  ok: number;
  errors: number;
  perSecond: number;
  mbPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const BOUNDARY = '----pushpicBench7MA4YWxkTrZu0gW';

/** A multipart body as a phone sends it: receiver_uid and the photo in img_file. */
export function multipart(fields: Record<string, string>, file: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields))
    parts.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  parts.push(
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="img_file"; filename="photo.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  );
  return Buffer.concat(parts);
}

export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/**
 * `clients` keep-alive connections each repeat job back to back for `seconds` (requests started before the
 * deadline finish). Bounded in time, on loopback.
 */
export async function runCell(
  origin: string,
  clients: number,
  seconds: number,
  job: Job,
): Promise<CellResult> {
  const pool = new Pool(origin, { connections: clients, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let bytes = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const moved = await job(pool, client);
          bytes += moved;
          ok += 1;
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    seconds: elapsed,
    ok,
    errors,
    perSecond: ok / elapsed,
    mbPerSecond: bytes / elapsed / 1e6,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/** Reads a response to the end; throws unless its status is the one expected. */
export async function expectStatus(
  res: { statusCode: number; body: { arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> } },
  status: number,
): Promise<ArrayBuffer> {
  const body = await res.body.arrayBuffer();
  if (res.statusCode !== status)
    throw new Error(`status ${res.statusCode}: ${Buffer.from(body).toString().slice(0, 200)}`);
  return body;
}

/** A port free on loopback right now, for a server the bench starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Re-runs the calling script on core 1, so that the servers it starts can have core 0 to themselves, and
 * returns the command prefix that pins a server to core 0. On one core (or without taskset) nothing is pinned.
 */
export function pinning(): { server: string[]; pinned: boolean } {
  if (process.env.BENCH_PINNED) return { server: ['taskset', '-c', '0'], pinned: true };
  const twoCores = os.cpus().length >= 2;
  const taskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (!twoCores || !taskset) return { server: [], pinned: false };
  const child = spawnSync(
    'taskset',
    ['-c', '1', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PINNED: '1' },
    },
  );
  process.exit(child.status ?? 1);
}
