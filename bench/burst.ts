/**
 * A burst of phones connecting at once, each sending one photo on a connection of its own: what a
 * push-notification app meets when many phones wake together. Measures, per server:
 * - the listening socket's accept queue (connections the kernel holds that the server has not yet
 *   accepted), sampled from /proc/net/tcp every few milliseconds;
 * - each phone's first-send latency, from the burst's start to its answer: p50, p99, max, and how many
 *   took over 2 s;
 * - the server's event-loop delay during the burst (p99 and max), which it reports itself: pushpic in
 *   /metrics (prom-client's monitorEventLoopDelay, reset on every scrape), the baseline at /eventloop.
 */
import fs from 'node:fs';
import { Client } from 'undici';
import { percentile } from './load';

export interface BurstRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface EventLoopDelay {
  p99Ms: number;
  maxMs: number;
}

export interface BurstResult {
  clients: number;
  ok: number;
  errors: number;
  /** From the burst's start to the last answer. */
  seconds: number;
  acceptQueueMax: number;
  firstSendP50Ms: number;
  firstSendP99Ms: number;
  firstSendMaxMs: number;
  over2s: number;
  eventLoop: EventLoopDelay | null;
}

/** The accept queue of the socket listening on 127.0.0.1:port (rx_queue of a LISTEN entry). */
function acceptQueue(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    // local_address rem_address st(0A = LISTEN) tx_queue:rx_queue
    if (fields[1]?.endsWith(hexPort) && fields[3] === '0A') return parseInt(fields[4].split(':')[1], 16);
  }
  return 0;
}

/**
 * Runs one burst of `clients` phones against origin. `eventLoop` reads the server's event-loop delay
 * since its last reading: it is called once before the burst (to start afresh) and once after.
 */
export async function runBurst(
  origin: string,
  clients: number,
  requestOf: (phone: number) => BurstRequest,
  eventLoop: () => Promise<EventLoopDelay | null>,
  expectStatus = 201,
): Promise<BurstResult> {
  const port = Number(new URL(origin).port);
  const requests = Array.from({ length: clients }, (_, i) => requestOf(i));
  await eventLoop();
  let acceptQueueMax = 0;
  const sampler = setInterval(() => {
    acceptQueueMax = Math.max(acceptQueueMax, acceptQueue(port));
  }, 5);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    requests.map(async (r) => {
      const client = new Client(origin, { pipelining: 1, connectTimeout: 60_000, bodyTimeout: 120_000 });
      try {
        const res = await client.request({
          method: 'POST',
          path: r.path,
          headers: r.headers,
          body: r.body,
          headersTimeout: 120_000,
        });
        await res.body.dump();
        if (res.statusCode === expectStatus) latencies.push(performance.now() - started);
        else errors += 1;
      } catch {
        errors += 1;
      } finally {
        await client.close().catch(() => undefined);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const delay = await eventLoop();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    ok: latencies.length,
    errors,
    seconds,
    acceptQueueMax,
    firstSendP50Ms: percentile(latencies, 50),
    firstSendP99Ms: percentile(latencies, 99),
    firstSendMaxMs: latencies[latencies.length - 1] ?? NaN,
    over2s: latencies.filter((l) => l > 2000).length,
    eventLoop: delay,
  };
}

/** pushpic's event-loop delay since the last scrape of /metrics (prom-client resets it on each). */
export async function pushpicEventLoop(origin: string): Promise<EventLoopDelay | null> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1]);
  const p99 = value('pushpic_nodejs_eventloop_lag_p99_seconds');
  const max = value('pushpic_nodejs_eventloop_lag_max_seconds');
  return Number.isFinite(p99) ? { p99Ms: p99 * 1000, maxMs: max * 1000 } : null;
}

/** The baseline server's event-loop delay since its last /eventloop. */
export async function baselineEventLoop(origin: string): Promise<EventLoopDelay | null> {
  return (await (await fetch(`${origin}/eventloop`)).json()) as EventLoopDelay;
}
