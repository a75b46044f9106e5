// How long the push outbox takes to drain after a GeTui outage, in real time, through the real server:
// a GeTui stand-in on loopback goes down (503 to every call, or connections refused), photos are sent
// meanwhile, then it comes back; the time from its recovery to each push is measured.
//
//   node -r ts-node/register/transpile-only bench/outage.ts
//
// OUTAGE_SECONDS (60), OUTAGE_SENDS (200), OUTAGE_MODE (503 or refuse), and any PUSH_* or DATABASE_URL
// setting passed through to the server. Not part of `npm run bench`: it takes a few minutes of waiting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { buildUser, sendPhoto } from '../test/support/factories';
import { GetuiStandin } from '../test/support/getui-standin';
import { makeImage } from '../test/support/images';
import { spawnServer } from '../test/support/server-process';
import { percentile } from './load';

const outageMs = Number(process.env.OUTAGE_SECONDS ?? 60) * 1000;
const sends = Number(process.env.OUTAGE_SENDS ?? 200);
const mode = process.env.OUTAGE_MODE === 'refuse' ? 'refuse' : '503';
const passed = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => /^(PUSH_|DATABASE_)/.test(k)),
) as Record<string, string>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-outage-'));
  const g = await new GetuiStandin().start();
  const server = await spawnServer({
    ...g.env(),
    SQLITE_FILE: path.join(dir, 'pushpic.sqlite'),
    UPLOAD_DIR: path.join(dir, 'uploads'),
    RATE_LIMIT_REGISTER_PER_IP: 'off',
    RATE_LIMIT_SEND_PER_USER: 'off',
    RATE_LIMIT_SEND_PER_IP: 'off',
    ...passed,
  });
  try {
    const api = supertest.agent(server.url);
    const alice = await buildUser(api);
    const receivers = [await buildUser(api), await buildUser(api), await buildUser(api)];
    const png = await makeImage('png', 8, 8);

    const down = Date.now();
    await g.outage(mode === 'refuse' ? 'refuse' : { status: 503 });
    // The sends spread over the outage, the last one a second before GeTui is back.
    const ids: number[] = [];
    for (let i = 0; i < sends; i++) {
      const res = await sendPhoto(api, alice, receivers[i % receivers.length], png);
      if (res.status !== 201) throw new Error(`send answered ${res.status}`);
      ids.push(res.body.message_id as number);
      await sleep(Math.max(0, down + ((i + 1) * (outageMs - 1000)) / sends - Date.now()));
    }
    await sleep(Math.max(0, down + outageMs - Date.now()));
    const accepted = g.accepted.length;
    await g.recover();
    const up = Date.now();

    // Polled: this measures the server, not the test harness.
    const deadline = up + 15 * 60 * 1000;
    const pushed = () => new Set(g.accepted.map((p) => p.transmission.message_id)).size;
    while (pushed() < sends && Date.now() < deadline) await sleep(20);
    const after = g.accepted
      .slice(accepted)
      .map((p) => p.at - up)
      .sort((a, b) => a - b);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      JSON.stringify({
        mode,
        outage_s: outageMs / 1000,
        sends,
        pushed: pushed(),
        pushed_during_outage: accepted,
        failed_calls: g.failedCalls,
        push_calls: g.pushCalls.length,
        repeats: g.repeats.length,
      }),
    );
    console.log(
      `recovery to push: first ${s(after[0])}, p50 ${s(percentile(after, 50))}, ` +
        `last ${s(after[after.length - 1])} (${after.length} pushes after recovery)`,
    );
    if (pushed() < sends) process.exitCode = 1;
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    await g.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
