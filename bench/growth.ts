/**
 * Cost growth: send and pending-list latency with 10k and with 1M messages already stored (seeded straight
 * into the database), on a real server process (the compiled one: run after `npm run build`). Run by
 * `npm run bench`, or alone by `npm run bench:growth`.
 * The server runs pinned to core 0 and this client to core 1 when the machine has two.
 *
 * BENCH_DATABASE_URL=postgres://... measures PostgreSQL instead of SQLite.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { freePort } from './load';
import { createDb } from '../src/db/knex';

const ROOT = path.resolve(__dirname, '..');
const SIZES = [10_000, 1_000_000];
const USERS = 10_000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const PG_URL = process.env.BENCH_DATABASE_URL ?? '';
const twoCores = os.cpus().length >= 2;

interface Stats {
  p50: number;
  p99: number;
  mean: number;
}

function stats(ms: number[]): Stats {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

/** Users 1..USERS and `count` messages spread over them as receivers, all still pending. */
async function seed(db: Knex, count: number, pg: boolean): Promise<void> {
  const now = Date.now();
  const hex = (expr: string) => (pg ? `lpad(to_hex(${expr}), 64, '0')` : `printf('%064x', ${expr})`);
  const series = (n: number) =>
    pg
      ? `generate_series(1, ${n}) AS c(x)`
      : `(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ${n}) SELECT x FROM s) AS c`;
  await db.raw(`
    INSERT INTO users (cid, ukey_hash, region_num, phone_num, phone_hash, nickname, reg_time)
    SELECT 'bench-cid', ${hex('x')}, '86', '+86139' || ${pg ? "lpad(x::text, 8, '0')" : "printf('%08d', x)"},
           ${hex('x')}, 'bench', ${now}
    FROM ${series(USERS)}`);
  await db.raw(`
    INSERT INTO messages (sender_uid, receiver_uid, message_key, send_time, exist, filetype, size)
    SELECT 1 + (x % ${USERS}), 1 + ((x * 7) % ${USERS}), ${hex('x')}, ${now} - ${count} + x, ${pg ? 'true' : '1'},
           'image/jpeg', 20000
    FROM ${series(count)}`);
}

function request(
  port: number,
  method: string,
  urlPath: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function multipart(fields: Record<string, string>, file: Buffer): { body: Buffer; type: string } {
  const boundary = `bench${crypto.randomBytes(8).toString('hex')}`;
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="img_file"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(parts.join('') + head), file, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

async function startServer(env: Record<string, string>): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const args = ['dist/src/main.js'];
  const [cmd, argv] = twoCores
    ? ['taskset', ['-c', '0', process.execPath, ...args]]
    : [process.execPath, args];
  const proc = spawn(cmd, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  proc.on('exit', () => (exited = true));
  // Wait until it answers (migrations and the startup sweep run first).
  for (;;) {
    if (exited) throw new Error('server exited before answering');
    const up = await request(port, 'GET', '/healthz', {}).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

async function measure(count: number, photo: Buffer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-growth-'));
  const schema = `bench_${crypto.randomBytes(4).toString('hex')}`;
  const dbEnv: Record<string, string> = PG_URL
    ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema }
    : { SQLITE_FILE: path.join(dir, 'pushpic.sqlite') };
  if (PG_URL) {
    const admin = knexFactory({ client: 'pg', connection: PG_URL });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    await admin.destroy();
  }
  const db = createDb(loadConfig(dbEnv).database);
  await db.migrate.latest();
  const seeded = Date.now();
  await seed(db, count, Boolean(PG_URL));
  if (PG_URL) await db.raw('ANALYZE');
  const seedMs = Date.now() - seeded;

  const server = await startServer({
    ...dbEnv,
    UPLOAD_DIR: path.join(dir, 'uploads'),
    RATE_LIMIT_REGISTER_PER_IP: 'off',
    RATE_LIMIT_SEND_PER_USER: 'off',
    RATE_LIMIT_SEND_PER_IP: 'off',
    LOG_LEVEL: 'warn',
  });
  const register = async (phone: string) => {
    const res = await request(
      server.port,
      'POST',
      '/v1/register',
      { 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify({ cid: 'c', region_num: '86', phone_num: phone, nickname: 'n' })),
    );
    const { uid, ukey } = JSON.parse(res.body.toString());
    const hash = crypto.createHash('sha256').update(`+86${phone}`).digest('hex');
    return { uid, headers: { 'X-Phone-Hash': hash, 'X-Ukey': ukey } };
  };
  const sender = await register('13700000001');
  const receiver = await register('13700000002');

  const sendMs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const { body, type } = multipart({ receiver_uid: String(receiver.uid) }, photo);
    const t0 = process.hrtime.bigint();
    const res = await request(
      server.port,
      'POST',
      '/v1/messages',
      { ...sender.headers, 'Content-Type': type },
      body,
    );
    sendMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.status !== 201) throw new Error(`send answered ${res.status}: ${res.body}`);
  }
  const listMs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    const res = await request(server.port, 'GET', `/v1/messages?limit=50&after=${i % 200}`, receiver.headers);
    listMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.status !== 200) throw new Error(`list answered ${res.status}`);
  }
  await server.stop();
  const [{ n }] = await db('messages').count({ n: '*' });
  await db.destroy();
  if (PG_URL) {
    const admin = knexFactory({ client: 'pg', connection: PG_URL });
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
    await admin.destroy();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { stored: Number(n), seedMs, send: stats(sendMs), list: stats(listMs) };
}

export async function runGrowthBench() {
  const photo = await sharp({ create: { width: 160, height: 120, channels: 3, background: '#c84' } })
    .jpeg()
    .toBuffer();
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const size of SIZES) results[size] = await measure(size, photo);
  const [small, large] = SIZES.map((s) => results[s]);
  const fmt = (n: number) => n.toFixed(2).padStart(8);
  const lines = [
    `Cost growth (${PG_URL ? 'PostgreSQL' : 'SQLite'}; ${SAMPLES} sequential requests each; ms)`,
    `| stored messages | send p50 | send p99 | list p50 | list p99 |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...SIZES.map((s) => {
      const r = results[s];
      return `| ${s.toLocaleString('en')} | ${fmt(r.send.p50)} | ${fmt(r.send.p99)} | ${fmt(r.list.p50)} | ${fmt(r.list.p99)} |`;
    }),
    `| ratio 1M / 10k | ${fmt(large.send.p50 / small.send.p50)} | ${fmt(large.send.p99 / small.send.p99)} | ${fmt(large.list.p50 / small.list.p50)} | ${fmt(large.list.p99 / small.list.p99)} |`,
  ];
  return { table: lines.join('\n'), results };
}

if (require.main === module) {
  runGrowthBench()
    .then(({ table, results }) => {
      console.log(table);
      fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
      fs.writeFileSync(path.join(ROOT, 'bench/results/growth.json'), JSON.stringify(results, null, 2));
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
