import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createLogger } from '../../src/logger';
import { pushRequestId } from '../../src/outbox/push-request';
import { GetuiClient } from '../../src/push/getui-client';
import { buildUser } from '../support/factories';
import { GetuiStandin } from '../support/getui-standin';
import { TestClock } from '../support/clock';
import { LogSink } from '../support/log-sink';
import { drainThroughRetries, jobOf, jobStates, sendPhotos, twoUsers } from '../support/push-fixtures';
import { startTestApp, type TestApp, type TestAppOptions } from '../support/test-app';

describe('push through GeTui (RestAPI v2 stand-in on loopback)', () => {
  let g: GetuiStandin;
  let clock: TestClock;
  const apps: TestApp[] = [];

  beforeEach(async () => {
    clock = new TestClock();
    g = await new GetuiStandin().start();
    g.now = clock.now;
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await g.close();
    expect(g.violations, 'protocol rules broken').to.deep.equal([]);
  });

  async function app(env: Record<string, string> = {}, options: TestAppOptions = {}) {
    const t = await startTestApp(
      { ...g.env(), PUSH_RETRY_BASE_MS: '1000', PUSH_RETRY_MAX_MS: '60000', ...env },
      { now: clock.now, ...options },
    );
    apps.push(t);
    return t;
  }

  it('pushes a sent photo with the exact payload, a notification naming the sender, the ttl and a stable request_id', async () => {
    const t = await app({ PUSH_TTL_MS: '3600000' });
    const { alice, bob } = await twoUsers(t);
    const [messageId] = await sendPhotos(t, alice, bob, 1);
    expect(g.accepted, 'nothing is pushed inside the request').to.have.length(0);

    expect(await t.drainPushes()).to.equal(1);
    expect(g.accepted).to.have.length(1);
    const push = g.accepted[0];
    const listed = (await t.api.get('/v1/messages').set(bob.headers)).body.messages[0];
    expect(push.transmission).to.deep.equal({
      sender_region: '86',
      sender_phone: alice.phoneHash,
      sender_uid: alice.uid,
      message_id: messageId,
      message_key: listed.message_key,
      send_time: listed.send_time,
      filetype: 'image/png',
      size: listed.size,
      width: listed.width,
      height: listed.height,
      blurhash: listed.blurhash,
    });
    expect(listed.blurhash).to.be.a('string');
    expect(push.transmission).to.deep.equal(listed);
    expect(push.cid).to.equal(bob.cid);
    expect(push.ttl).to.equal(3_600_000);
    expect(push.notification.title).to.equal('New photo');
    expect(push.notification.body).to.include('Alice');
    expect(push.notification.click_type).to.equal('payload');
    expect(JSON.parse(push.notification.payload)).to.deep.equal(push.transmission);
    // A repeat of this message's push replaces its notification on a maker channel.
    expect(push.notification.notify_id).to.equal(messageId);

    const job = await jobOf(t, messageId);
    expect(push.requestId).to.equal(pushRequestId(messageId, job.jobId));
    expect(job).to.include({
      state: 'sent',
      attempts: 1,
      taskId: push.taskId,
      provider: 'getui',
      lastError: null,
    });
    expect(g.authCalls).to.equal(1);

    const logs = t.logs.raw.join('\n');
    expect(logs).to.include('"event":"push.sent"');
    for (const secret of [g.credentials.masterSecret, ...g.issuedTokens, bob.cid]) {
      expect(logs).not.to.include(secret);
    }
  });

  it('re-authenticates once when the token expires mid-run, and loses no push', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    await sendPhotos(t, alice, bob, 3);
    await t.drainPushes();
    expect(g.authCalls).to.equal(1);

    g.expireTokens(); // GeTui now answers 10001 to the cached token
    const later = await sendPhotos(t, alice, bob, 3);
    await t.drainPushes();
    expect(g.authCalls).to.equal(2);
    expect(g.accepted).to.have.length(6);
    for (const id of later) expect(await jobOf(t, id)).to.include({ state: 'sent', attempts: 1 });

    // Close to expire_time the token is refreshed ahead, without waiting for a 10001.
    clock.advance(23.5 * 60 * 60 * 1000);
    await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(g.authCalls).to.equal(3);
    expect(g.accepted).to.have.length(7);
    expect(await jobStates(t)).to.deep.equal({ sent: 7 });
  });

  it('shares one token request between concurrent pushes', async () => {
    const sink = new LogSink();
    const client = new GetuiClient({
      ...g.credentials,
      baseUrl: g.baseUrl,
      ttlMs: 60_000,
      timeoutMs: 5000,
      logger: createLogger('info', sink),
      now: clock.now,
    });
    const payload = {
      sender_region: '86',
      sender_phone: 'a'.repeat(64),
      sender_uid: 1,
      message_id: 1,
      message_key: 'b'.repeat(64),
      send_time: 1,
      filetype: 'image/png',
      size: 1,
      width: 1,
      height: 1,
      blurhash: null,
    };
    const push = (i: number) =>
      client.send({
        requestId: `concurrent-${i}`,
        cid: `cid-${i}`,
        payload,
        title: 't',
        body: 'b',
        notifyId: i,
      });
    const first = await Promise.all([1, 2, 3, 4, 5].map(push));
    expect(first.map((o) => o.kind)).to.deep.equal(Array(5).fill('sent'));
    expect(g.authCalls).to.equal(1);
    g.expireTokens();
    const second = await Promise.all([6, 7, 8, 9, 10].map(push));
    expect(second.map((o) => o.kind)).to.deep.equal(Array(5).fill('sent'));
    expect(g.authCalls).to.equal(2);
  });

  it('after an outage (503 for the first calls) probes with one push, no sooner than Retry-After, then pushes the rest, one accepted push per job', async () => {
    const t = await app();
    const { alice } = await twoUsers(t);
    const receivers = [await buildUser(t.api), await buildUser(t.api), await buildUser(t.api)];
    g.failNext(3, { status: 503, retryAfter: '120' });
    const ids = await sendPhotos(t, alice, receivers, 5);

    expect(await t.drainPushes()).to.equal(5);
    for (const id of ids) {
      const job = await jobOf(t, id);
      // GeTui being down says nothing about the push: the call is not counted against PUSH_MAX_ATTEMPTS.
      expect(job).to.include({ state: 'pending', attempts: 0 });
      expect(job.parkedAt, 'parked on the outage').to.not.equal(null);
      expect(job.lastError).to.include('503');
    }
    expect(t.services.outbox.providerState).to.equal('failing');
    // Retry-After: 120 holds back every call two minutes, the probe's too.
    clock.advance(119_000);
    expect(await t.drainPushes()).to.equal(0);
    clock.advance(1000);
    expect(await t.drainPushes(), 'one probe, answered 503').to.equal(1);
    clock.advance(120_000);
    expect(await t.drainPushes(), 'one probe, answered 503').to.equal(1);
    clock.advance(120_000);
    expect(await t.drainPushes(), 'the probe, answered, then the four it released').to.equal(5);
    expect(t.services.outbox.providerState).to.equal('up');

    expect(g.failedCalls).to.equal(3);
    expect(g.pushCalls).to.deep.equal([
      { kind: 'single', size: 1 },
      { kind: 'batch', size: 4 },
    ]);
    expect(await jobStates(t)).to.deep.equal({ sent: 5 });
    const jobs = await Promise.all(ids.map((id) => jobOf(t, id)));
    // Five failed in the batch and two failed probes, not counted; the answered probe and the four released
    // pushes, one counted call each.
    expect(jobs.reduce((n, j) => n + j.attempts, 0)).to.equal(1 + 4);
    for (const j of jobs) {
      expect(j.parkedAt).to.equal(null);
      expect(g.acceptedFor(pushRequestId(j.messageId, j.jobId)), `message ${j.messageId}`).to.have.length(1);
    }
    expect(g.accepted).to.have.length(5);
    expect(g.repeats).to.deep.equal([]);
  });

  for (const outage of ['503', 'refused connections'] as const) {
    it(`pushes all 200 jobs sent during a 60 s outage (${outage}) within 10 s of recovery, probing meanwhile`, async () => {
      // The default back-off: waiting it out, each job would go out up to 80 s after recovery.
      const t = await app({ PUSH_RETRY_BASE_MS: '5000', PUSH_RETRY_MAX_MS: '1800000' });
      const { alice } = await twoUsers(t);
      const receivers = [await buildUser(t.api), await buildUser(t.api), await buildUser(t.api)];
      await g.outage(outage === '503' ? { status: 503 } : 'refuse');
      // 200 sends over 60 s, the worker draining every second as its loop does.
      const ids: number[] = [];
      for (let second = 0; second < 60; second++) {
        ids.push(...(await sendPhotos(t, alice, receivers, second < 20 ? 4 : 3)));
        await t.drainPushes();
        clock.advance(1000);
      }
      expect(ids).to.have.length(200);
      expect(g.accepted).to.have.length(0);
      expect((await t.api.get('/metrics')).text).to.include(
        'pushpic_push_provider_state{provider="getui",state="failing"} 1',
      );
      // No job hammers GeTui: the first batch, then one probe push every PUSH_PROBE_MS (2 s).
      const attempts = async () => Number((await t.services.db('push_jobs').sum({ n: 'attempts' }))[0].n);
      expect(await attempts()).to.be.at.most(4 + 30);

      await g.recover();
      const back = clock.now();
      while (g.accepted.length < 200 && clock.now() - back < 10_000) {
        clock.advance(500);
        await t.drainPushes();
      }
      expect(await jobStates(t)).to.deep.equal({ sent: 200 });
      const last = Math.max(...g.accepted.map((p) => p.at));
      expect(last - back, 'last push after recovery (ms)').to.be.at.most(10_000);
      expect(new Set(g.accepted.map((p) => p.transmission.message_id)).size).to.equal(200);
      expect(g.repeats).to.deep.equal([]);
      // The release made them due at once; they went out in batch calls, not one by one.
      expect(g.pushCalls.filter((c) => c.kind === 'batch').length).to.be.at.most(2);
      expect((await t.api.get('/metrics')).text).to.include(
        'pushpic_push_provider_state{provider="getui",state="up"} 1',
      );
    });
  }

  it('releases parked jobs whose own back-off is minutes away as soon as a probe is answered', async () => {
    const t = await app({ PUSH_RETRY_BASE_MS: '600000', PUSH_RETRY_MAX_MS: '1800000' });
    const { alice, bob } = await twoUsers(t);
    await g.outage();
    const ids = await sendPhotos(t, alice, bob, 20);
    expect(await t.drainPushes()).to.equal(20);
    const parked = await Promise.all(ids.map((id) => jobOf(t, id)));
    for (const job of parked) {
      expect(job.parkedAt).to.be.a('number');
      expect(job.dueAt - job.parkedAt!, 'its own back-off').to.be.at.least(300_000);
    }
    for (let i = 0; i < 5; i++) {
      clock.advance(2000);
      expect(await t.drainPushes(), 'one probe while down').to.equal(1);
    }
    await g.recover();
    clock.advance(2000); // the next probe
    expect(await t.drainPushes()).to.equal(20);
    expect(await jobStates(t)).to.deep.equal({ sent: 20 });
    for (const job of parked) {
      const sent = await jobOf(t, job.messageId);
      expect(sent.finishedAt!, 'pushed long before its own back-off').to.be.below(job.dueAt);
    }
    expect(t.logs.lines.some((l) => l.event === 'push.released' && l.jobs === 19)).to.equal(true);
  });

  it('takes a call limit (10005) for a pause of every call, not an outage', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    g.failNext(1, { status: 200, code: 10005, msg: 'per-minute limit' });
    const [first, second] = await sendPhotos(t, alice, bob, 2);
    const before = clock.now();
    await t.drainPushes();
    for (const id of [first, second]) {
      const job = await jobOf(t, id);
      expect(job).to.include({ state: 'pending', parkedAt: null });
      expect(job.dueAt - before).to.be.at.least(60_000);
    }
    expect(t.services.outbox.providerState).to.equal('up');
    // No call before the minute is over, for a new message either.
    const [third] = await sendPhotos(t, alice, bob, 1);
    clock.advance(59_000);
    expect(await t.drainPushes()).to.equal(0);
    expect(g.pushCalls).to.deep.equal([]);
    expect(await jobOf(t, third)).to.include({ state: 'pending', attempts: 0 });

    clock.advance(1000);
    expect(await t.drainPushes()).to.equal(3);
    expect(g.pushCalls).to.deep.equal([{ kind: 'batch', size: 3 }]);
    expect(await jobStates(t)).to.deep.equal({ sent: 3 });
  });

  it('retries a push whose answer was lost with the same request_id, which GeTui drops as a repeat', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    g.failNext(1, { acceptThenDrop: true });
    const [id] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    // A lost answer is a network error: not counted against the job.
    expect(await jobOf(t, id)).to.include({ state: 'pending', attempts: 0 });
    expect(g.accepted).to.have.length(1); // GeTui got it; we could not know

    await drainThroughRetries(t, (ms) => clock.advance(ms), 60_000);
    const job = await jobOf(t, id);
    expect(job).to.include({ state: 'sent', attempts: 1 });
    expect(g.repeats).to.deep.equal([pushRequestId(id, job.jobId)]);
    expect(g.accepted).to.have.length(1);
  });

  it('backs off on GeTui codes that ask for it and fails for good on a refusal', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    g.failNext(1, { status: 200, code: 10005, msg: 'per-minute limit' });
    const [limited] = await sendPhotos(t, alice, bob, 1);
    const before = clock.now();
    await t.drainPushes();
    const job = await jobOf(t, limited);
    expect(job.state).to.equal('pending');
    expect(job.dueAt - before).to.be.at.least(60_000);

    clock.advance(60_000);
    g.failNext(1, { status: 403, code: 10002, msg: 'app is blacklisted' });
    await t.drainPushes();
    expect(await jobOf(t, limited)).to.include({ state: 'failed' });
    expect((await jobOf(t, limited)).lastError).to.include('10002');
    expect(g.accepted).to.have.length(0);
  });

  it('never gives a job up while GeTui is down, however many probes fail: it is pushed once GeTui answers', async () => {
    const t = await app({ PUSH_MAX_ATTEMPTS: '3' });
    const { alice, bob } = await twoUsers(t);
    // One waiting message, probed every 2 s through an outage ten times PUSH_MAX_ATTEMPTS long.
    g.failNext(30, { status: 502 });
    const [id] = await sendPhotos(t, alice, bob, 1);
    await drainThroughRetries(t, (ms) => clock.advance(ms), 2000, 40);
    expect(g.failedCalls).to.equal(30);
    const job = await jobOf(t, id);
    expect(job).to.include({ state: 'sent', attempts: 1 });
    expect(g.accepted).to.have.length(1);
  });

  it('marks an invalid cid on its user, pushes to it no more until a new cid, and keeps the message pending', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    g.invalidCids.add(bob.cid);
    const [first] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(await jobOf(t, first)).to.include({ state: 'failed' });
    expect((await jobOf(t, first)).lastError).to.include('target user is invalid');
    const row = await t.services.db('users').where({ id: bob.uid }).first();
    expect(row.cid_invalid_at).to.not.equal(null);

    const calls = g.pushCalls.length;
    const [second] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(g.pushCalls.length, 'no push to a dead cid').to.equal(calls);
    expect(await jobOf(t, second)).to.include({ state: 'skipped' });

    const listed = await t.api.get('/v1/messages').set(bob.headers);
    expect(listed.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal([
      first,
      second,
    ]);

    expect((await t.api.put('/v1/me/cid').set(bob.headers).send({ cid: 'bob-new-cid' })).status).to.equal(
      204,
    );
    const [third] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(await jobOf(t, third)).to.include({ state: 'sent' });
    expect(g.accepted.map((p) => p.cid)).to.deep.equal(['bob-new-cid']);
  });

  it('finds the one dead cid of a batch by sending the batch one by one', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    const carol = await buildUser(t.api);
    const dave = await buildUser(t.api);
    g.invalidCids.add(carol.cid);
    const [toBob, toCarol, toDave] = await sendPhotos(t, alice, [bob, carol, dave], 3);
    await t.drainPushes();
    expect(g.pushCalls.map((c) => c.kind)).to.deep.equal(['batch', 'single', 'single', 'single']);
    expect((await jobOf(t, toBob)).state).to.equal('sent');
    expect((await jobOf(t, toCarol)).state).to.equal('failed');
    expect((await jobOf(t, toDave)).state).to.equal('sent');
    const users = await t.services.db('users').whereNotNull('cid_invalid_at').pluck('id');
    expect(users).to.deep.equal([carol.uid]);
  });

  /**
   * Sends n photos through a server whose worker never runs, stops it, then starts a second one on the same
   * database and folder with its worker on: every push must arrive, each job recorded as sent.
   */
  async function pushedAfterRestart(env: Record<string, string>, n: number) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-restart-'));
    try {
      const first = await startTestApp(env, { dir });
      const { alice, bob } = await twoUsers(first);
      const ids = await sendPhotos(first, alice, bob, n);
      await first.close(); // before its worker ran
      expect(g.accepted).to.have.length(0);

      const second = await startTestApp(env, { dir, startWorker: true });
      apps.push(second);
      await g.waitForAccepted(n);
      expect(g.accepted.map((p) => p.transmission.message_id)).to.have.members(ids);
      await second.services.outbox.stop();
      expect(await jobStates(second)).to.deep.equal({ sent: n });
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('sends after a restart the jobs a stopped server left pending', () => pushedAfterRestart(g.env(), 2));

  it('pushes a backlog of several batches at start without waiting for the next poll', () =>
    // Batches of 2 and a poll of ten minutes: only going on after each full batch pushes all 5 soon.
    pushedAfterRestart({ ...g.env(), PUSH_BATCH_SIZE: '2', PUSH_POLL_MS: '600000' }, 5));

  it('claims again the jobs of a worker that died once their lease runs out', async () => {
    const t = await app({ PUSH_LEASE_MS: '60000' });
    const { alice, bob } = await twoUsers(t);
    const [id] = await sendPhotos(t, alice, bob, 1);
    // Another process claims the job, then dies before recording anything.
    const dead = await t.services.pushJobs.claim('dead-worker:1', clock.now(), 60_000, 10);
    expect(dead.map((j) => j.message.messageId)).to.deep.equal([id]);
    expect(await t.drainPushes()).to.equal(0);

    clock.advance(60_000);
    expect(await t.drainPushes()).to.equal(1);
    const job = await jobOf(t, id);
    expect(job).to.include({ state: 'sent', attempts: 2 });
    expect(g.acceptedFor(pushRequestId(id, job.jobId))).to.have.length(1);

    // Were the dead worker to wake up, its outcome would not overwrite the one recorded.
    const lost = await t.services.pushJobs.record(
      'dead-worker:1',
      [{ jobId: job.jobId, state: 'failed', provider: 'getui', error: 'late' }],
      [],
      clock.now(),
    );
    expect(lost).to.deep.equal([job.jobId]);
    expect(await jobOf(t, id)).to.include({ state: 'sent' });
  });

  it('sends 500 messages due at once in batch calls of at most 200', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    const carol = await buildUser(t.api);
    const ids = await sendPhotos(t, alice, [bob, carol], 500);
    expect(await t.drainPushes()).to.equal(500);
    expect(g.pushCalls).to.deep.equal([
      { kind: 'batch', size: 200 },
      { kind: 'batch', size: 200 },
      { kind: 'batch', size: 100 },
    ]);
    expect(new Set(g.accepted.map((p) => p.requestId)).size).to.equal(500);
    expect(new Set(g.accepted.map((p) => p.transmission.message_id))).to.have.property('size', 500);
    const jobs = await t.services.db('push_jobs').whereIn('message_id', ids).select('state', 'task_id');
    expect(jobs.every((j) => j.state === 'sent')).to.equal(true);
    expect(new Set(jobs.map((j) => j.task_id)).size, 'each job has its own task id').to.equal(500);
  });

  it('sends the messages stored within the batch window in one call, and sends them on stop', async () => {
    // A window of a minute and a poll of ten: nothing goes out before stop() unless the window is ignored.
    const t = await app({ PUSH_POLL_MS: '600000', PUSH_BATCH_WINDOW_MS: '60000' }, { startWorker: true });
    const { alice, bob } = await twoUsers(t);
    const ids = await sendPhotos(t, alice, bob, 3);
    await t.api.get('/healthz'); // a full round trip through the server after the last send
    expect(g.pushCalls, 'held for the window').to.deep.equal([]);
    // Written leased to this process's outbox, which holds them for the window.
    expect(await jobStates(t)).to.deep.equal({ sending: 3 });

    await t.services.outbox.stop();
    expect(g.pushCalls).to.deep.equal([{ kind: 'batch', size: 3 }]);
    expect(await jobStates(t)).to.deep.equal({ sent: 3 });
    expect(new Set(g.accepted.map((p) => p.transmission.message_id))).to.deep.equal(new Set(ids));
  });

  it('pushes as soon as a message is stored, and lets the batch in flight finish on stop', async () => {
    // A poll of ten minutes: only the wake-up after the send can push this soon.
    const t = await app({ PUSH_POLL_MS: '600000' }, { startWorker: true });
    const { alice, bob } = await twoUsers(t);
    const gate = g.hold();
    const [id] = await sendPhotos(t, alice, bob, 1);
    await gate.arrived;
    expect((await jobOf(t, id)).state).to.equal('sending');

    let stopped = false;
    const stopping = t.services.outbox.stop().then(() => (stopped = true));
    await t.api.get('/healthz'); // a full round trip through the server while the push is held
    expect(stopped, 'stop waits for the batch in flight').to.equal(false);
    gate.release();
    await stopping;
    expect((await jobOf(t, id)).state).to.equal('sent');
    expect(g.accepted).to.have.length(1);
  });
});
