/**
 * npm run bench: pushpic against its ceilings, in one run on this machine.
 *
 * Starts the compiled server (dist/) four times (metadata stripping on/off × preview on/off), each on a
 * temporary SQLite database and uploads folder with the mock push provider and LOG_LEVEL=silent, plus a
 * bare node:http + busboy server doing the same upload and download with nothing else. With the preview on,
 * sends are measured twice: as an app that sends its own blurhash makes them (nothing decoded: the default
 * configuration's usual case) and as one that sends none (pushpic decodes the photo for the preview). Servers run on
 * core 0 (taskset), this load generator on core 1, when the machine has two cores. Every cell is a fixed
 * number of seconds of keep-alive requests on loopback; cells are interleaved across servers and repeated
 * BENCH_ROUNDS times, and the median is reported, so that a neighbour's burst hits every server alike.
 * Each cell also records the server's CPU time per request (/proc/<pid>/stat, all its threads), which
 * another tenant on the machine disturbs far less than throughput.
 *
 * Prints a table and writes bench/results/latest.json. BENCH_SECONDS (per cell, default 2) and
 * BENCH_ROUNDS (default 5: on a VM with noisy neighbours, 3 rounds left single cells swinging the
 * median by 10-15 points) change the length.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encode as encodeBlurhash } from 'blurhash';
import sharp from 'sharp';
import { request } from 'undici';
import { baselineEventLoop, pushpicEventLoop, runBurst, type BurstResult } from './burst';
import { benchPhoto } from './fixtures';
import {
  MULTIPART_TYPE,
  expectStatus,
  freePort,
  multipart,
  pinning,
  runCell,
  type CellResult,
  type Job,
} from './load';

const ROOT = path.resolve(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = [1, 8, 32];
const CLIENTS = Math.max(...CONCURRENCY);
/** BENCH_ONLY=send,burst,download,trip,examine runs only those parts (while working on one of them). */
const PARTS = ['send', 'burst', 'download', 'trip', 'examine'];
const ONLY = new Set((process.env.BENCH_ONLY ?? PARTS.join(',')).split(','));
/** Phones connecting at once in a burst (BENCH_BURST_CLIENTS), and bursts per server. */
const BURST_CLIENTS = Number(process.env.BENCH_BURST_CLIENTS ?? 500);
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 3);

interface Server {
  name: string;
  origin: string;
  dir: string;
  process: ChildProcess;
}

async function startServer(
  name: string,
  prefix: string[],
  command: string[],
  env: Record<string, string>,
  dir: string,
) {
  const port = await freePort();
  const [bin, ...args] = [...prefix, ...command];
  const child = spawn(bin, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${origin}/healthz`);
      await res.body.dump();
      break;
    } catch {
      if (i > 200 || child.exitCode !== null) throw new Error(`${name} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { name, origin, dir, process: child } satisfies Server;
}

interface BenchUser {
  uid: number;
  headers: Record<string, string>;
}

async function register(origin: string, index: number): Promise<BenchUser> {
  const phone = `1380013${String(index).padStart(4, '0')}`;
  const res = await request(`${origin}/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      cid: `bench-${index}`,
      region_num: '86',
      phone_num: phone,
      nickname: `Bench ${index}`,
    }),
  });
  const body = JSON.parse(Buffer.from(await expectStatus(res, 201)).toString()) as {
    uid: number;
    ukey: string;
  };
  const phoneHash = crypto.createHash('sha256').update(`+86${phone}`).digest('hex');
  return { uid: body.uid, headers: { 'x-phone-hash': phoneHash, 'x-ukey': body.ukey } };
}

/** Senders, receivers and round-trip pairs: one of each per client. */
async function users(origin: string) {
  const all = await Promise.all(Array.from({ length: 4 * CLIENTS }, (_, i) => register(origin, i)));
  return {
    senders: all.slice(0, CLIENTS),
    receivers: all.slice(CLIENTS, 2 * CLIENTS),
    tripSenders: all.slice(2 * CLIENTS, 3 * CLIENTS),
    tripReceivers: all.slice(3 * CLIENTS),
  };
}

/**
 * Frees the disk between cells: the stored photos (rows stay; no cell reads them back). pushpic's shard
 * folders stay, as they do on a server that has stored a few hundred photos: removing them would make the
 * next cell measure 256 mkdirs that no steady-state send pays.
 */
async function dropStoredFiles(dir: string) {
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.tmp' || entry.name.endsWith('.sqlite') || entry.name.includes('.sqlite-')) continue;
    const where = path.join(dir, entry.name);
    if (!entry.isDirectory()) await fs.promises.rm(where, { force: true });
    else for (const file of await fs.promises.readdir(where)) await fs.promises.rm(path.join(where, file));
  }
}

/** The send row of the default configuration with an app that sends its own blurhash (nothing decoded). */
const APP_BLURHASH = 'strip+preview, app hash';

/** A 4×3 blurhash of the photo, as an app computes it from its own small decode. */
async function appBlurhash(photo: Buffer): Promise<string> {
  const { data, info } = await sharp(photo)
    .resize(32, 32, { fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encodeBlurhash(new Uint8ClampedArray(data), info.width, info.height, 4, 3);
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A cell with the server's CPU time (all its threads) per answered request. */
type Cell = CellResult & { cpuUs: number };

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** User plus system CPU time of a process so far, in microseconds (/proc/<pid>/stat). */
function cpuTime(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

function summarise(cells: Cell[]) {
  return {
    perSecond: median(cells.map((c) => c.perSecond)),
    cpuUs: median(cells.map((c) => c.cpuUs)),
    mbPerSecond: median(cells.map((c) => c.mbPerSecond)),
    p50Ms: median(cells.map((c) => c.p50Ms)),
    p99Ms: median(cells.map((c) => c.p99Ms)),
    errors: cells.reduce((n, c) => n + c.errors, 0),
    rounds: cells.map((c) => Math.round(c.perSecond)),
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

async function main() {
  const pin = pinning();
  for (const built of ['dist/src/main.js', 'dist/bench/baseline-server.js', 'dist/bench/examine.js'])
    if (!fs.existsSync(path.join(ROOT, built))) throw new Error('run `tsc -p tsconfig.bench.json` first');
  const info = { ...machine(), pinned: pin.pinned, secondsPerCell: SECONDS, rounds: ROUNDS };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-bench-'));
  const servers: Server[] = [];
  try {
    const photo = await benchPhoto();
    const photoPath = path.join(tmp, 'photo.jpg');
    fs.writeFileSync(photoPath, photo);
    process.stderr.write(`bench: ${photo.length}-byte JPEG, ${SECONDS} s per cell, ${ROUNDS} rounds\n`);

    const node = [process.execPath];
    const baselineDir = path.join(tmp, 'baseline');
    const baseline = await startServer(
      'baseline',
      pin.server,
      // Compiled, like pushpic: under ts-node the TypeScript compiler's heap would be marked by every full
      // GC, which the baseline's fresh read buffers trigger often (measured: up to twice the CPU per download).
      [...node, 'dist/bench/baseline-server.js'],
      { DIR: baselineDir },
      baselineDir,
    );
    servers.push(baseline);
    const configs = [
      { key: 'strip+preview', STRIP_METADATA: 'true', PUSH_PREVIEW: 'on' },
      { key: 'strip', STRIP_METADATA: 'true', PUSH_PREVIEW: 'off' },
      { key: 'preview', STRIP_METADATA: 'false', PUSH_PREVIEW: 'on' },
      { key: 'plain', STRIP_METADATA: 'false', PUSH_PREVIEW: 'off' },
    ];
    const ours: (Server & { key: string; users: Awaited<ReturnType<typeof users>> })[] = [];
    for (const { key, ...env } of configs) {
      const dir = path.join(tmp, key);
      const s = await startServer(
        key,
        pin.server,
        [...node, 'dist/src/main.js'],
        {
          ...env,
          NODE_ENV: 'production',
          LOG_LEVEL: 'silent',
          PUSH_PROVIDER: 'mock',
          // The bench registers many users from one address: no rate limits here.
          RATE_LIMIT_REGISTER_PER_IP: 'off',
          RATE_LIMIT_SEND_PER_USER: 'off',
          RATE_LIMIT_SEND_PER_IP: 'off',
          SQLITE_FILE: path.join(dir, 'pushpic.sqlite'),
          UPLOAD_DIR: dir,
        },
        dir,
      );
      servers.push(s);
      ours.push({ ...s, key, users: await users(s.origin) });
    }
    const main = ours[0];

    // What the sending app computes once from the photo it already has decoded, and sends along.
    const appsBlurhash = await appBlurhash(photo);
    const sendJob = (o: (typeof ours)[number], fields: Record<string, string> = {}): Job => {
      const bodies = o.users.senders.map((_, i) =>
        multipart({ receiver_uid: String(o.users.receivers[i].uid), ...fields }, photo),
      );
      return async (pool, c) => {
        const res = await pool.request({
          method: 'POST',
          path: '/v1/messages',
          headers: { ...o.users.senders[c].headers, 'content-type': MULTIPART_TYPE },
          body: bodies[c],
        });
        await expectStatus(res, 201);
        return photo.length;
      };
    };
    const baselineBody = multipart({ receiver_uid: '1' }, photo);
    const baselineSend: Job = async (pool) => {
      const res = await pool.request({
        method: 'POST',
        path: '/upload',
        headers: { 'content-type': MULTIPART_TYPE },
        body: baselineBody,
      });
      await expectStatus(res, 201);
      return photo.length;
    };

    // send → push recorded (the mock provider has it before the 201) → list → download → delete
    const tripBodies = main.users.tripSenders.map((_, i) =>
      multipart({ receiver_uid: String(main.users.tripReceivers[i].uid) }, photo),
    );
    const roundTrip: Job = async (pool, c) => {
      const receiver = main.users.tripReceivers[c].headers;
      const sent = await pool.request({
        method: 'POST',
        path: '/v1/messages',
        headers: { ...main.users.tripSenders[c].headers, 'content-type': MULTIPART_TYPE },
        body: tripBodies[c],
      });
      const { message_key: key } = JSON.parse(Buffer.from(await expectStatus(sent, 201)).toString());
      const list = await pool.request({ method: 'GET', path: '/v1/messages?limit=10', headers: receiver });
      const listed = JSON.parse(Buffer.from(await expectStatus(list, 200)).toString()) as {
        messages: { message_key: string }[];
      };
      if (!listed.messages.some((m) => m.message_key === key)) throw new Error('not listed');
      const got = await pool.request({ method: 'GET', path: `/v1/messages/${key}`, headers: receiver });
      const bytes = (await expectStatus(got, 200)).byteLength;
      const del = await pool.request({ method: 'DELETE', path: `/v1/messages/${key}`, headers: receiver });
      await expectStatus(del, 204);
      return photo.length + bytes;
    };

    type Row = { name: string; origin: string; pid: number; job: Job; dir?: string; concurrency: number[] };
    const sendRows: Row[] = [
      {
        name: 'busboy baseline',
        origin: baseline.origin,
        pid: baseline.process.pid!,
        job: baselineSend,
        dir: baselineDir,
        concurrency: CONCURRENCY,
      },
      {
        name: APP_BLURHASH,
        origin: main.origin,
        pid: main.process.pid!,
        job: sendJob(main, { blurhash: appsBlurhash }),
        dir: main.dir,
        concurrency: CONCURRENCY,
      },
      ...ours.map((o) => ({
        name: o.key,
        origin: o.origin,
        pid: o.process.pid!,
        job: sendJob(o),
        dir: o.dir,
        concurrency: CONCURRENCY,
      })),
    ];
    const tripRows: Row[] = [
      {
        name: 'pushpic (strip+preview)',
        origin: main.origin,
        pid: main.process.pid!,
        job: roundTrip,
        concurrency: [1, 8],
      },
    ];

    const results: Record<string, Record<string, Record<number, Cell[]>>> = {
      send: {},
      download: {},
      roundTrip: {},
    };
    const run = async (kind: string, rows: Row[], rounds: number, seconds: number) => {
      for (let r = 0; r < rounds; r++)
        for (const c of CONCURRENCY)
          for (const row of rows) {
            if (!row.concurrency.includes(c)) continue;
            const cpuBefore = cpuTime(row.pid);
            const measured = await runCell(row.origin, c, seconds, row.job);
            const cell = { ...measured, cpuUs: (cpuTime(row.pid) - cpuBefore) / Math.max(1, measured.ok) };
            if (row.dir) await dropStoredFiles(row.dir);
            ((results[kind][row.name] ??= {})[c] ??= []).push(cell);
            process.stderr.write(
              `  ${kind} ${row.name} c=${c}: ${cell.perSecond.toFixed(0)}/s (${cell.errors} errors)\n`,
            );
          }
    };
    const warmUp = async (rows: Row[]) => {
      for (const row of rows) {
        await runCell(row.origin, 8, 1, row.job);
        if (row.dir) await dropStoredFiles(row.dir);
      }
    };
    if (ONLY.has('send')) {
      process.stderr.write('sends\n');
      await warmUp(sendRows);
      await run('send', sendRows, ROUNDS, SECONDS);
    }

    const bursts: Record<string, BurstResult[]> = {};
    if (ONLY.has('burst')) {
      process.stderr.write(`bursts of ${BURST_CLIENTS} phones\n`);
      const phones = await Promise.all(
        Array.from({ length: BURST_CLIENTS }, (_, i) => register(main.origin, 1000 + i)),
      );
      const ourBody = (i: number) =>
        multipart(
          { receiver_uid: String(main.users.receivers[i % CLIENTS].uid), blurhash: appsBlurhash },
          photo,
        );
      const ourBodies = phones.map((_, i) => ourBody(i));
      const burstRows = [
        {
          name: 'busboy baseline',
          origin: baseline.origin,
          dir: baselineDir,
          request: () => ({
            path: '/upload',
            headers: { 'content-type': MULTIPART_TYPE },
            body: baselineBody,
          }),
          eventLoop: () => baselineEventLoop(baseline.origin),
        },
        {
          name: `pushpic ${APP_BLURHASH}`,
          origin: main.origin,
          dir: main.dir,
          request: (i: number) => ({
            path: '/v1/messages',
            headers: { ...phones[i].headers, 'content-type': MULTIPART_TYPE },
            body: ourBodies[i],
          }),
          eventLoop: () => pushpicEventLoop(main.origin),
        },
      ];
      for (let r = 0; r < BURST_ROUNDS; r++)
        for (const row of burstRows) {
          const result = await runBurst(row.origin, BURST_CLIENTS, row.request, row.eventLoop);
          await dropStoredFiles(row.dir);
          (bursts[row.name] ??= []).push(result);
          process.stderr.write(
            `  burst ${row.name}: first send p99 ${result.firstSendP99Ms.toFixed(0)} ms, accept queue ${result.acceptQueueMax}, ` +
              `loop p99 ${result.eventLoop?.p99Ms.toFixed(0)} ms (${result.errors} errors)\n`,
          );
        }
    }

    // After the send cells, which drop stored files: one stored copy of the photo per client to download.
    const keys: string[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      const res = await request(`${main.origin}/v1/messages`, {
        method: 'POST',
        headers: { ...main.users.senders[c].headers, 'content-type': MULTIPART_TYPE },
        body: multipart({ receiver_uid: String(main.users.receivers[c].uid) }, photo),
      });
      keys.push(JSON.parse(Buffer.from(await expectStatus(res, 201)).toString()).message_key);
    }
    const ourDownload: Job = async (pool, c) => {
      const res = await pool.request({
        method: 'GET',
        path: `/v1/messages/${keys[c]}`,
        headers: main.users.receivers[c].headers,
      });
      return (await expectStatus(res, 200)).byteLength;
    };
    const baselineFile = JSON.parse(
      Buffer.from(
        await expectStatus(
          await request(`${baseline.origin}/upload`, {
            method: 'POST',
            headers: { 'content-type': MULTIPART_TYPE },
            body: baselineBody,
          }),
          201,
        ),
      ).toString(),
    ).name as string;
    const baselineDownload =
      (route: string): Job =>
      async (pool) => {
        const res = await pool.request({ method: 'GET', path: `/${route}/${baselineFile}` });
        return (await expectStatus(res, 200)).byteLength;
      };

    const downloadRows: Row[] = [
      {
        name: 'node:http streamed',
        origin: baseline.origin,
        pid: baseline.process.pid!,
        job: baselineDownload('files'),
        concurrency: CONCURRENCY,
      },
      {
        name: 'node:http read whole',
        origin: baseline.origin,
        pid: baseline.process.pid!,
        job: baselineDownload('whole'),
        concurrency: CONCURRENCY,
      },
      {
        name: 'pushpic',
        origin: main.origin,
        pid: main.process.pid!,
        job: ourDownload,
        concurrency: CONCURRENCY,
      },
    ];
    if (ONLY.has('download')) {
      process.stderr.write('downloads\n');
      await warmUp(downloadRows);
      await run('download', downloadRows, ROUNDS, SECONDS);
    }
    if (ONLY.has('trip')) {
      process.stderr.write('round trips\n');
      await run('roundTrip', tripRows, ROUNDS, SECONDS);
    }
    if (PARTS.some((part) => !ONLY.has(part))) {
      const burst = summariseBursts(bursts);
      process.stdout.write(
        `${JSON.stringify({ send: mapCells(results.send), burst, download: mapCells(results.download), roundTrip: mapCells(results.roundTrip) }, null, 1)}\n`,
      );
      return;
    }

    process.stderr.write('examination alone\n');
    const [bin, ...args] = [
      ...pin.server,
      ...node,
      'dist/bench/examine.js',
      photoPath,
      String(SECONDS),
      String(ROUNDS),
    ];
    const examine = spawnSync(bin, args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const examination = Object.fromEntries(
      Object.entries(JSON.parse(examine.stdout) as Record<string, number[]>).map(([k, v]) => [
        k,
        { perSecond: median(v), rounds: v.map(Math.round) },
      ]),
    );

    const report = {
      date: new Date().toISOString(),
      machine: { ...info, loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))) },
      photoBytes: photo.length,
      send: mapCells(results.send),
      burst: summariseBursts(bursts),
      download: mapCells(results.download),
      roundTrip: mapCells(results.roundTrip),
      examination,
      comparisons: {
        ...Object.fromEntries(
          [APP_BLURHASH, ...ours.map((o) => o.key)].map((key) => [
            `send ${key} vs busboy`,
            compare(results.send[key], results.send['busboy baseline']),
          ]),
        ),
        // The target: against the bare server sending files the way pushpic does (read whole).
        'download pushpic vs node:http': compare(
          results.download.pushpic,
          results.download['node:http read whole'],
        ),
        'download pushpic vs node:http streamed': compare(
          results.download.pushpic,
          results.download['node:http streamed'],
        ),
        'strip on/off, preview on': compare(results.send['strip+preview'], results.send.preview),
        'strip on/off, preview off': compare(results.send.strip, results.send.plain),
      },
    };
    fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(table(report));
  } finally {
    for (const s of servers) s.process.kill('SIGTERM');
    await Promise.all(
      servers.map(
        (s) => new Promise((r) => (s.process.exitCode !== null ? r(null) : s.process.once('exit', r))),
      ),
    );
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Each burst row's median over its rounds, and every round's numbers. */
function summariseBursts(bursts: Record<string, BurstResult[]>) {
  return Object.fromEntries(
    Object.entries(bursts).map(([name, rounds]) => {
      const med = (pick: (b: BurstResult) => number) => median(rounds.map(pick));
      return [
        name,
        {
          clients: rounds[0].clients,
          errors: rounds.reduce((n, b) => n + b.errors, 0),
          seconds: med((b) => b.seconds),
          acceptQueueMax: med((b) => b.acceptQueueMax),
          firstSendP50Ms: med((b) => b.firstSendP50Ms),
          firstSendP99Ms: med((b) => b.firstSendP99Ms),
          firstSendMaxMs: med((b) => b.firstSendMaxMs),
          over2s: med((b) => b.over2s),
          eventLoopP99Ms: med((b) => b.eventLoop?.p99Ms ?? NaN),
          eventLoopMaxMs: med((b) => b.eventLoop?.maxMs ?? NaN),
          rounds,
        },
      ];
    }),
  );
}

function mapCells(byName: Record<string, Record<number, Cell[]>>) {
  return Object.fromEntries(
    Object.entries(byName).map(([name, byC]) => [
      name,
      Object.fromEntries(Object.entries(byC).map(([c, cells]) => [c, summarise(cells)])),
    ]),
  );
}

/**
 * How one row compares with another at each concurrency, from cells measured side by side in the same
 * round (so a neighbour's burst weighs on both): the median of the per-round throughput ratios, and the
 * ratio of CPU time per request (other / ours), which a busy machine disturbs far less.
 */
function compare(ours: Record<number, Cell[]>, other: Record<number, Cell[]>) {
  return Object.fromEntries(
    Object.keys(ours).map((c) => {
      const a = ours[Number(c)];
      const b = other[Number(c)];
      return [
        c,
        {
          throughput: median(a.map((x, i) => x.perSecond / b[i].perSecond)),
          cpu: median(b.map((x) => x.cpuUs)) / median(a.map((x) => x.cpuUs)),
        },
      ];
    }),
  );
}

type Comparison = ReturnType<typeof compare>;

type Report = {
  date: string;
  machine: ReturnType<typeof machine> & {
    pinned: boolean;
    secondsPerCell: number;
    rounds: number;
    loadAverageAtEnd: number[];
  };
  photoBytes: number;
  send: Record<string, Record<string, ReturnType<typeof summarise>>>;
  burst: ReturnType<typeof summariseBursts>;
  download: Record<string, Record<string, ReturnType<typeof summarise>>>;
  roundTrip: Record<string, Record<string, ReturnType<typeof summarise>>>;
  examination: Record<string, { perSecond: number }>;
  comparisons: Record<string, Comparison>;
};

function table(r: Report): string {
  const out: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (v: number, d = 0) => v.toFixed(d);
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const m = r.machine;
  out.push(
    `pushpic bench, ${r.date}`,
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ` +
      `${m.pinned ? 'servers on core 0, load on core 1' : 'not pinned'}; ${m.secondsPerCell} s per cell, median of ${m.rounds} rounds; ` +
      `load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end`,
    `photo: ${(r.photoBytes / 1024).toFixed(0)} KB camera JPEG (EXIF with GPS, ICC, XMP)`,
    'each cell: requests/s (MB/s) server CPU µs per request [vs baseline: throughput, CPU efficiency]',
    '',
  );
  const section = (
    title: string,
    rows: Record<string, Record<string, ReturnType<typeof summarise>>>,
    label: (name: string) => string,
    vs: (name: string) => Comparison | undefined,
  ) => {
    out.push(`${pad(title, 32)}${CONCURRENCY.map((c) => pad(`c=${c}`, 36)).join('')}`);
    for (const [name, byC] of Object.entries(rows)) {
      const cells = CONCURRENCY.map((c) => {
        const v = byC[c];
        const cmp = vs(name)?.[c];
        const against = cmp ? ` [${pct(cmp.throughput)}, ${pct(cmp.cpu)}]` : '';
        return pad(`${num(v.perSecond)} (${num(v.mbPerSecond)}) ${num(v.cpuUs)}µs${against}`, 36);
      });
      out.push(`${pad(label(name), 32)}${cells.join('')}`);
    }
    out.push('');
  };
  section(
    'sends',
    r.send,
    (n) => (n.includes('baseline') ? n : `pushpic ${n}`),
    (n) => r.comparisons[`send ${n} vs busboy`],
  );
  section(
    'downloads',
    r.download,
    (n) => n,
    (n) => r.comparisons[`download ${n} vs node:http`],
  );
  // Under the downloads section, before its closing blank line.
  out.splice(
    out.length - 1,
    0,
    `${pad('  vs node:http streamed', 32)}${CONCURRENCY.map((c) => {
      const v = r.comparisons['download pushpic vs node:http streamed'][c];
      return pad(`[${pct(v.throughput)}, ${pct(v.cpu)}]`, 36);
    }).join('')}`,
  );
  const bursts = Object.entries(r.burst);
  if (bursts.length) {
    out.push(
      `bursts: ${bursts[0][1].clients} phones connecting at once, one photo each on its own connection (median of rounds)`,
      `${pad('', 32)}${['accept queue', 'first send p50/p99/max', 'over 2 s', 'event loop p99/max', 'all answered'].map((h) => pad(h, 24)).join('')}`,
    );
    for (const [name, b] of bursts)
      out.push(
        `${pad(name, 32)}${[
          `${num(b.acceptQueueMax)}`,
          `${num(b.firstSendP50Ms)}/${num(b.firstSendP99Ms)}/${num(b.firstSendMaxMs)} ms`,
          `${num(b.over2s)}`,
          `${num(b.eventLoopP99Ms)}/${num(b.eventLoopMaxMs)} ms`,
          `${num(b.seconds, 1)} s${b.errors ? `, ${b.errors} errors` : ''}`,
        ]
          .map((v) => pad(v, 24))
          .join('')}`,
      );
    out.push('');
  }
  for (const [name, byC] of Object.entries(r.roundTrip))
    for (const [c, v] of Object.entries(byC))
      out.push(
        `round trip ${name}, c=${c}: p50 ${num(v.p50Ms, 1)} ms, p99 ${num(v.p99Ms, 1)} ms, ${num(v.perSecond)} trips/s` +
          (v.errors ? `, ${v.errors} errors` : ''),
      );
  out.push('', 'examinations/s, one at a time, one process on core 0 [vs sharp alone]');
  const sharpAlone = Object.values(r.examination)[0].perSecond;
  for (const [name, v] of Object.entries(r.examination))
    out.push(
      `  ${pad(name, 52)}${pad(num(v.perSecond), 8)}${name.startsWith('sharp alone') ? '' : `[${pct(v.perSecond / sharpAlone)}]`}`,
    );

  out.push('', 'targets [throughput ratio, CPU-efficiency ratio]');
  const t = (key: string, c: number) => {
    const v = r.comparisons[key][c];
    return `${pct(v.throughput)}, ${pct(v.cpu)}`;
  };
  for (const c of CONCURRENCY)
    out.push(
      `  c=${c}: strip on/off ≥ 90%: [${t('strip on/off, preview on', c)}] with preview, [${t('strip on/off, preview off', c)}] without; ` +
        `send vs busboy ≥ 70%: [${t(`send ${APP_BLURHASH} vs busboy`, c)}] default with the app's blurhash, ` +
        `[${t('send strip+preview vs busboy', c)}] decoded here, [${t('send strip vs busboy', c)}] preview off; ` +
        `download vs node:http ≥ 90%: [${t('download pushpic vs node:http', c)}]`,
    );
  return `${out.join('\n')}\n`;
}
main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
