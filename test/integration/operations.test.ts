import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startTestApp, TEST_DATABASE_URL, type TestApp } from '../support/test-app';
import { buildUser, nextPhone, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';

const DAY = 86_400_000;

describe('operations: expiry, sweeper, limits, metrics, readiness', () => {
  let jpeg: Buffer;
  before(async () => {
    jpeg = await makeImage('jpeg', 96, 64);
  });

  describe('message expiry', () => {
    let t: TestApp;
    let alice: TestUser;
    let bob: TestUser;
    before(async () => {
      t = await startTestApp({ MESSAGE_TTL: '7d', ORPHAN_GRACE: '0' });
      alice = await buildUser(t.api);
      bob = await buildUser(t.api);
    });
    after(() => t.close());

    /** A message sent `age` ms ago: sent now, then its send_time moved back as if it had waited. */
    async function sendAged(age: number) {
      const sent = await sendPhoto(t.api, alice, bob, jpeg);
      expect(sent.status).to.equal(201);
      await t.services
        .db('messages')
        .where({ id: sent.body.message_id })
        .update({ send_time: Date.now() - age });
      return sent.body as { message_id: number; message_key: string };
    }

    it('drops messages past MESSAGE_TTL from the list and answers 410 expired, before and after the sweep', async () => {
      const old = await sendAged(8 * DAY);
      const fresh = await sendAged(6 * DAY);
      const listed = async () =>
        (await t.api.get('/v1/messages').set(bob.headers)).body.messages.map(
          (m: { message_id: number }) => m.message_id,
        );
      expect(await listed())
        .to.include(fresh.message_id)
        .and.not.include(old.message_id);

      const before = await t.api.get(`/v1/messages/${old.message_key}`).set(bob.headers);
      expect(before.status).to.equal(410);
      expect(before.body.error).to.equal('expired');

      const report = await t.services.sweeper.run();
      expect(report.expired).to.be.at.least(1);
      const row = await t.services.db('messages').where({ id: old.message_id }).first();
      expect(Boolean(row.exist)).to.equal(false);
      expect(Number(row.expired_at)).to.be.within(Date.now() - 60_000, Date.now());
      expect(t.storedFiles().some((f) => f.endsWith(old.message_key))).to.equal(false);
      expect(t.storedFiles().some((f) => f.endsWith(fresh.message_key))).to.equal(true);

      const afterSweep = await t.api.get(`/v1/messages/${old.message_key}`).set(bob.headers);
      expect(afterSweep.status).to.equal(410);
      expect(afterSweep.body.error).to.equal('expired');
      expect(afterSweep.body.message).to.match(/expired/);
      expect((await t.api.get(`/v1/messages/${fresh.message_key}`).set(bob.headers)).status).to.equal(200);
    });

    it('prunes push jobs that finished longer than MESSAGE_TTL ago, and keeps the rest', async () => {
      const old = await sendPhoto(t.api, alice, bob, jpeg);
      const recent = await sendPhoto(t.api, alice, bob, jpeg);
      const unsent = await sendPhoto(t.api, alice, bob, jpeg);
      await t.drainPushes();
      const longAgo = Date.now() - 8 * DAY;
      await t.services
        .db('push_jobs')
        .where({ message_id: old.body.message_id })
        .update({ finished_at: longAgo, due_at: longAgo });
      await t.services
        .db('push_jobs')
        .where({ message_id: unsent.body.message_id })
        .update({ state: 'pending', due_at: longAgo });
      const report = await t.services.sweeper.run();
      expect(report.prunedJobs).to.equal(1);
      const left = await t.services.db('push_jobs').pluck('message_id');
      expect(left).not.to.include(old.body.message_id);
      expect(left).to.include(recent.body.message_id).and.include(unsent.body.message_id);
    });

    it('tells a photo deleted after download (gone) from one that expired', async () => {
      const sent = await sendPhoto(t.api, alice, bob, jpeg);
      await t.api.delete(`/v1/messages/${sent.body.message_key}`).set(bob.headers);
      await t.services.sweeper.run();
      const res = await t.api.get(`/v1/messages/${sent.body.message_key}`).set(bob.headers);
      expect(res.status).to.equal(410);
      expect(res.body.error).to.equal('gone');
    });
  });

  describe('the reconciling sweeper', () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ ORPHAN_GRACE: '10m' });
    });
    after(() => t.close());

    const uploads = () => t.services.config.uploadDir;
    function plantFile(relative: string, ageMs: number) {
      const file = path.join(uploads(), relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'orphan');
      const when = new Date(Date.now() - ageMs);
      fs.utimesSync(file, when, when);
      return file;
    }

    it('removes old files no live row points to, and leaves young ones and live ones', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api);
      const live = await sendPhoto(t.api, a, b, jpeg);
      const deleted = await sendPhoto(t.api, a, b, jpeg);
      // A delete cut off between its row and its file leaves the file behind.
      await t.services.db('messages').where({ id: deleted.body.message_id }).update({ exist: false });
      const deletedFile = path.join(
        uploads(),
        deleted.body.message_key.slice(0, 2),
        deleted.body.message_key,
      );
      const past = new Date(Date.now() - 3_600_000);
      fs.utimesSync(deletedFile, past, past);

      const oldOrphan = plantFile(`ab/ab${'0'.repeat(62)}`, 3_600_000);
      const youngOrphan = plantFile(`cd/cd${'0'.repeat(62)}`, 1_000);
      const strayName = plantFile('ab/not-a-key.txt', 3_600_000);

      const report = await t.services.sweeper.run();
      expect(report.orphanFiles).to.equal(2);
      expect(fs.existsSync(oldOrphan)).to.equal(false);
      expect(fs.existsSync(deletedFile)).to.equal(false);
      expect(fs.existsSync(youngOrphan)).to.equal(true);
      expect(fs.existsSync(strayName)).to.equal(true); // not ours to judge
      const download = await t.api.get(`/v1/messages/${live.body.message_key}`).set(b.headers);
      expect(download.status).to.equal(200);
    });

    it('removes temporary files of a process that is gone, and idle ones of anyone', async () => {
      const tmp = path.join(uploads(), '.tmp');
      const host = os.hostname().replace(/[^A-Za-z0-9-]/g, '-');
      const deadPid = 2 ** 22 + 17; // above Linux's pid_max default: no such process
      const crashed = plantFile(`.tmp/${host}.${deadPid}.0a1b2c3d.part`, 1_000);
      const mineInFlight = plantFile(`.tmp/${host}.${process.pid}.0a1b2c3e.part`, 1_000);
      const otherHostIdle = plantFile('.tmp/elsewhere.12.0a1b2c3f.part', 3_600_000);
      const otherHostBusy = plantFile('.tmp/elsewhere.12.0a1b2c40.part', 1_000);
      await t.services.sweeper.run();
      expect(fs.readdirSync(tmp).sort()).to.deep.equal(
        [path.basename(mineInFlight), path.basename(otherHostBusy)].sort(),
      );
      expect(fs.existsSync(crashed)).to.equal(false);
      expect(fs.existsSync(otherHostIdle)).to.equal(false);
    });

    it('stops listing a message whose file was lost outside pushpic, answering 410', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api);
      const sent = await sendPhoto(t.api, a, b, jpeg);
      fs.rmSync(path.join(uploads(), sent.body.message_key.slice(0, 2), sent.body.message_key));
      const res = await t.api.get(`/v1/messages/${sent.body.message_key}`).set(b.headers);
      expect(res.status).to.equal(410);
      const list = await t.api.get('/v1/messages').set(b.headers);
      expect(list.body.messages).to.deep.equal([]);
    });
  });

  describe('rate limits', () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({
        RATE_LIMIT_REGISTER_PER_IP: '2/1h',
        RATE_LIMIT_SEND_PER_USER: '2/1m',
        RATE_LIMIT_SEND_PER_IP: '100/1m',
      });
    });
    after(() => t.close());

    const register = (app: TestApp, headers: Record<string, string> = {}) =>
      app.api
        .post('/v1/register')
        .set(headers)
        .send({ cid: 'c', region_num: '86', phone_num: nextPhone(), nickname: 'N' });

    it('answers registrations over the per-IP limit with 429 and Retry-After, writing nothing', async () => {
      expect((await register(t)).status).to.equal(201);
      expect((await register(t)).status).to.equal(201);
      const count = Number((await t.services.db('users').count({ n: '*' }))[0].n);
      const third = await register(t);
      expect(third.status).to.equal(429);
      expect(third.body.error).to.equal('too_many_requests');
      expect(Number(third.headers['retry-after'])).to.be.within(1, 3600);
      expect(Number((await t.services.db('users').count({ n: '*' }))[0].n)).to.equal(count);
    });

    it('answers sends over the per-user limit with 429 and stores nothing', async () => {
      const app = await startTestApp({ RATE_LIMIT_SEND_PER_USER: '2/1m' });
      try {
        const sender = await buildUser(app.api);
        const receiver = await buildUser(app.api);
        expect((await sendPhoto(app.api, sender, receiver, jpeg)).status).to.equal(201);
        expect((await sendPhoto(app.api, sender, receiver, jpeg)).status).to.equal(201);
        const third = await sendPhoto(app.api, sender, receiver, jpeg);
        expect(third.status).to.equal(429);
        expect(third.body.error).to.equal('too_many_requests');
        expect(third.headers['retry-after']).to.match(/^\d+$/);
        expect(await app.services.db('messages').where({ sender_uid: sender.uid })).to.have.length(2);
        expect(app.storedFiles().filter((f) => f.startsWith('.tmp/'))).to.deep.equal([]);
        // Another sender is not held back by the first one's count.
        expect((await sendPhoto(app.api, receiver, sender, jpeg)).status).to.equal(201);
      } finally {
        await app.close();
      }
    });

    it('counts behind a proxy by X-Forwarded-For only with TRUST_PROXY', async () => {
      const trusting = await startTestApp({ RATE_LIMIT_REGISTER_PER_IP: '1/1h', TRUST_PROXY: 'true' });
      const naive = await startTestApp({ RATE_LIMIT_REGISTER_PER_IP: '1/1h' });
      try {
        expect((await register(trusting, { 'X-Forwarded-For': '203.0.113.1' })).status).to.equal(201);
        expect((await register(trusting, { 'X-Forwarded-For': '203.0.113.2' })).status).to.equal(201);
        expect((await register(trusting, { 'X-Forwarded-For': '203.0.113.1' })).status).to.equal(429);
        expect((await register(naive, { 'X-Forwarded-For': '203.0.113.1' })).status).to.equal(201);
        expect((await register(naive, { 'X-Forwarded-For': '203.0.113.2' })).status).to.equal(429);
      } finally {
        await trusting.close();
        await naive.close();
      }
    });

    (TEST_DATABASE_URL ? it : it.skip)('shares the count between instances on PostgreSQL', async () => {
      const first = await startTestApp({ RATE_LIMIT_REGISTER_PER_IP: '2/1h' });
      const second = await startTestApp({}, { sameStoreAs: first });
      try {
        expect(first.services.config.rateLimits.store).to.equal('database');
        expect((await register(first)).status).to.equal(201);
        expect((await register(second)).status).to.equal(201);
        expect((await register(first)).status).to.equal(429);
        expect((await register(second)).status).to.equal(429);
      } finally {
        await second.close();
        await first.close();
      }
    });

    it('counts in memory, and says so in the log, /readyz and /metrics, when Redis cannot be reached', async () => {
      const app = await startTestApp({
        RATE_LIMIT_REGISTER_PER_IP: '2/1h',
        RATE_LIMIT_STORE: 'redis',
        REDIS_URL: 'redis://127.0.0.1:1', // nothing listens there
        TRUST_PROXY: 'true',
      });
      try {
        expect(app.logs.lines.some((l) => l.event === 'rate_limit.redis_not_ready')).to.equal(true);
        const client = { 'X-Forwarded-For': '203.0.113.9' };
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await register(app, client)).status);
        expect(statuses).to.deep.equal([201, 201, 429]);
        const warned = app.logs.lines.filter((l) => l.event === 'rate_limit.store_error');
        expect(warned).to.have.length(1); // once, not once per request
        expect(warned[0]).to.include({ limiter: 'register_ip', store: 'redis' });

        const ready = await app.api.get('/readyz');
        expect(ready.status).to.equal(200); // it serves, with limits per instance
        expect(ready.body).to.deep.include({ status: 'degraded' });
        expect(ready.body.checks).to.include({ rate_limits: 'degraded', database: 'ok' });
        const metrics = (await app.api.get('/metrics')).text;
        expect(metrics).to.match(/pushpic_rate_limit_store_errors_total\{limiter="register_ip"\} 3/);
      } finally {
        await app.close();
      }
    });

    it('reports limits as ok while Redis answers', async () => {
      const app = await startTestApp({ RATE_LIMIT_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' });
      try {
        const ready = await app.api.get('/readyz');
        expect(ready.body).to.deep.include({ status: 'ready' });
        expect(ready.body.checks).to.include({ rate_limits: 'ok' });
      } finally {
        await app.close();
      }
    });

    it('shares the count between instances through Redis', async () => {
      const env = {
        RATE_LIMIT_REGISTER_PER_IP: '2/1h',
        RATE_LIMIT_STORE: 'redis',
        REDIS_URL: 'redis://127.0.0.1:6379',
        TRUST_PROXY: 'true',
      };
      const a = await startTestApp(env);
      const b = await startTestApp(env);
      try {
        // A client address of its own, so counts left in Redis by earlier runs do not matter.
        const client = {
          'X-Forwarded-For': `2001:db8::${crypto.randomBytes(6).toString('hex').match(/.{4}/g)!.join(':')}`,
        };
        const statuses = [];
        for (const app of [a, b, a, b]) statuses.push((await register(app, client)).status);
        expect(statuses).to.deep.equal([201, 201, 429, 429]);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  describe('metrics and readiness', () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp();
    });
    after(() => t.close());

    it('serves Prometheus metrics: requests by route and status, upload bytes, pushes, pending messages', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api);
      await sendPhoto(t.api, a, b, jpeg);
      await t.drainPushes();
      await t.api.get(`/v1/messages/${'0'.repeat(64)}`).set(b.headers);
      const res = await t.api.get('/metrics');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain/);
      const text: string = res.text;
      expect(text).to.match(
        /pushpic_http_requests_total\{method="POST",route="\/v1\/register",status="201"\} 2/,
      );
      expect(text).to.match(
        /pushpic_http_requests_total\{method="GET",route="\/v1\/messages\/:message_key",status="404"\} 1/,
      );
      expect(text).not.to.include('0'.repeat(64));
      expect(text).to.match(new RegExp(`pushpic_upload_bytes_total ${jpeg.length}\\b`));
      expect(text).to.match(/pushpic_push_outcomes_total\{provider="mock",result="sent"\} 1/);
      expect(text).to.match(/pushpic_pending_messages 1\b/);
      expect(text).to.match(/pushpic_outbox_jobs\{state="sent"\} 1\b/);
      expect(text).to.include('pushpic_http_request_duration_seconds_bucket');
    });

    it('guards /metrics with METRICS_TOKEN when set', async () => {
      const guarded = await startTestApp({ METRICS_TOKEN: 's3cret-token' });
      try {
        expect((await guarded.api.get('/metrics')).status).to.equal(401);
        expect(
          (await guarded.api.get('/metrics').set('Authorization', 'Bearer wrong-token!')).status,
        ).to.equal(401);
        expect(
          (await guarded.api.get('/metrics').set('Authorization', 'Bearer s3cret-token')).status,
        ).to.equal(200);
      } finally {
        await guarded.close();
      }
    });

    it('answers /readyz 200 when the database and blob store work, 503 when the store cannot take writes', async () => {
      const ok = await t.api.get('/readyz');
      expect(ok.status).to.equal(200);
      expect(ok.body).to.deep.equal({
        status: 'ready',
        checks: { database: 'ok', blob_store: 'ok', rate_limits: 'ok' },
      });

      const broken = await startTestApp();
      try {
        const dir = broken.services.config.uploadDir;
        fs.rmSync(dir, { recursive: true, force: true });
        fs.writeFileSync(dir, 'a file where the folder should be');
        const res = await broken.api.get('/readyz');
        expect(res.status).to.equal(503);
        expect(res.body.error).to.equal('not_ready');
        expect(res.body.checks).to.deep.equal({ database: 'ok', blob_store: 'failing', rate_limits: 'ok' });
        expect((await broken.api.get('/healthz')).status).to.equal(200);
      } finally {
        fs.rmSync(broken.services.config.uploadDir, { force: true });
        await broken.close();
      }
    });
  });
});
