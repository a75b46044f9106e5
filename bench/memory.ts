/**
 * npm run bench:memory: 50 concurrent 10 MB uploads against the compiled server (defaults: stripping and
 * preview on, IMAGE_CONCURRENCY=2), and the server's resident memory meanwhile, read from
 * /proc/<pid>/status (VmRSS sampled every 10 ms, VmHWM for the peak). The server runs on core 0 and this
 * client on core 1 when the machine has two. Prints the numbers and writes bench/results/memory.json.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool, request } from 'undici';
import { largePhoto } from './fixtures';
import { MULTIPART_TYPE, expectStatus, freePort, multipart, pinning } from './load';

const ROOT = path.resolve(__dirname, '..');
const UPLOADS = Number(process.env.MEMORY_UPLOADS ?? 50);
const ROUNDS = Number(process.env.MEMORY_ROUNDS ?? 3);
const PHOTO_BYTES = 10_000_000;

function status(pid: number): Record<string, number> {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

async function main() {
  const { pinned } = pinning();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-memory-'));
  const port = await freePort();
  const command = [...(pinned ? ['taskset', '-c', '0'] : []), process.execPath, 'dist/src/main.js'];
  const server = spawn(command[0], command.slice(1), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      // The bench registers many users from one address: no rate limits here.
      RATE_LIMIT_REGISTER_PER_IP: 'off',
      RATE_LIMIT_SEND_PER_USER: 'off',
      RATE_LIMIT_SEND_PER_IP: 'off',
      SQLITE_FILE: path.join(tmp, 'pushpic.sqlite'),
      UPLOAD_DIR: tmp,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        await (await request(`${origin}/healthz`)).body.dump();
        break;
      } catch {
        if (i > 200) throw new Error('server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const users: { uid: number; headers: Record<string, string> }[] = [];
    for (const phone of ['13800138001', '13800138002']) {
      const res = await request(`${origin}/v1/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cid: 'memory', region_num: '86', phone_num: phone, nickname: 'Memory' }),
      });
      const { uid, ukey } = JSON.parse(Buffer.from(await expectStatus(res, 201)).toString());
      const phoneHash = crypto.createHash('sha256').update(`+86${phone}`).digest('hex');
      users.push({ uid, headers: { 'x-phone-hash': phoneHash, 'x-ukey': ukey } });
    }
    const photo = await largePhoto(PHOTO_BYTES);
    const body = multipart({ receiver_uid: String(users[1].uid) }, photo);
    const send = (pool: Pool) =>
      pool
        .request({
          method: 'POST',
          path: '/v1/messages',
          headers: { ...users[0].headers, 'content-type': MULTIPART_TYPE },
          body,
        })
        .then((res) => expectStatus(res, 201));

    const warm = new Pool(origin, { connections: 1 });
    await send(warm); // modules loaded, sharp and SQLite warm
    await warm.close();
    const idle = status(server.pid!);
    process.stderr.write(`photo ${photo.length} bytes; idle RSS ${idle.rss.toFixed(0)} MiB\n`);

    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, status(server.pid!).rss)), 10);
      const pool = new Pool(origin, { connections: UPLOADS });
      const started = performance.now();
      const results = await Promise.allSettled(Array.from({ length: UPLOADS }, () => send(pool)));
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      await pool.close();
      const failed = results.filter((x) => x.status === 'rejected');
      rounds.push({ seconds, ok: UPLOADS - failed.length, failed: failed.length, peakSampledMiB: peak });
      process.stderr.write(
        `round ${r + 1}: ${UPLOADS - failed.length}/${UPLOADS} stored in ${seconds.toFixed(1)} s, ` +
          `sampled peak RSS ${peak.toFixed(0)} MiB\n`,
      );
      for (const entry of fs.readdirSync(tmp))
        if (/^[0-9a-f]{2}$/.test(entry)) fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
    }
    const end = status(server.pid!);
    const report = {
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, pinned },
      uploads: UPLOADS,
      photoBytes: photo.length,
      idleRssMiB: Number(idle.rss.toFixed(1)),
      peakRssMiB: Number(end.hwm.toFixed(1)),
      rounds,
    };
    fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench/results/memory.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(
      `${UPLOADS} concurrent uploads of a ${(photo.length / 1e6).toFixed(1)} MB JPEG × ${ROUNDS} rounds: ` +
        `server RSS ${report.idleRssMiB} MiB idle, peak ${report.peakRssMiB} MiB (VmHWM); ` +
        `${rounds.map((r) => `${r.ok}/${UPLOADS} in ${r.seconds.toFixed(1)} s`).join(', ')}\n`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:memory failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
