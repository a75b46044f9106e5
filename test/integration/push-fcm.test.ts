import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { buildUser } from '../support/factories';
import { FcmStandin } from '../support/fcm-standin';
import { TestClock } from '../support/clock';
import { drainThroughRetries, jobOf, jobStates, sendPhotos, twoUsers } from '../support/push-fixtures';
import { startTestApp, type TestApp } from '../support/test-app';

describe('push through FCM HTTP v1 (OAuth2 and FCM stand-ins on loopback)', () => {
  let f: FcmStandin;
  let clock: TestClock;
  let dir: string;
  const apps: TestApp[] = [];

  before(async () => {
    f = await new FcmStandin().start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-fcm-'));
    fs.writeFileSync(path.join(dir, 'service-account.json'), f.serviceAccountJson());
  });
  after(async () => {
    await f.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    clock = new TestClock();
    f.expireTokens();
    f.accepted.length = 0;
    f.unregistered.clear();
    f.tokenCalls = 0;
    f.failedCalls = 0;
    f.clearFailures();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    expect(f.violations, 'protocol rules broken').to.deep.equal([]);
  });

  async function app(env: Record<string, string> = {}) {
    const t = await startTestApp(
      {
        PUSH_PROVIDER: 'fcm',
        FCM_SERVICE_ACCOUNT_FILE: path.join(dir, 'service-account.json'),
        FCM_BASE_URL: f.baseUrl,
        FCM_TOKEN_URL: f.tokenUrl,
        PUSH_RETRY_BASE_MS: '1000',
        PUSH_RETRY_MAX_MS: '60000',
        ...env,
      },
      { now: clock.now },
    );
    apps.push(t);
    return t;
  }

  it('sends the payload as a data message of string values with HIGH priority and the ttl', async () => {
    const t = await app({ PUSH_TTL_MS: '3600000' });
    const { alice, bob } = await twoUsers(t);
    const [id] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(f.accepted).to.have.length(1);
    const push = f.accepted[0];
    const listed = (await t.api.get('/v1/messages').set(bob.headers)).body.messages[0];
    expect(push.token).to.equal(bob.cid);
    expect(push.data).to.deep.equal(
      Object.fromEntries(Object.entries(listed).map(([k, v]) => [k, String(v)])),
    );
    expect(push.data).to.include({
      message_id: String(id),
      sender_phone: alice.phoneHash,
      sender_region: '86',
    });
    // Data only: the app's onMessageReceived runs in the background too, and shows its own notification.
    expect(push.android).to.deep.equal({ priority: 'HIGH', ttl: '3600s' });
    expect(await jobOf(t, id)).to.include({ state: 'sent', taskId: push.name, provider: 'fcm' });
    expect(f.tokenCalls).to.equal(1);

    const logs = t.logs.raw.join('\n');
    for (const secret of [...f.issuedTokens, bob.cid, 'PRIVATE KEY']) expect(logs).not.to.include(secret);
  });

  it('on a 401 fetches one new access token for concurrent sends, and refreshes ahead of expiry', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(f.tokenCalls).to.equal(1);

    f.expireTokens();
    await sendPhotos(t, alice, bob, 6); // sent side by side: FCM v1 has no batch call
    await t.drainPushes();
    expect(f.tokenCalls).to.equal(2);
    expect(f.accepted).to.have.length(7);

    clock.advance(56 * 60 * 1000); // under five minutes left of the hour-long token
    await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(f.tokenCalls).to.equal(3);
    expect(await jobStates(t)).to.deep.equal({ sent: 8 });
  });

  it('takes UNAVAILABLE and INTERNAL for an outage: parks the jobs, probes after Retry-After, then pushes them all', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    f.failNext(1, { status: 503, errorStatus: 'UNAVAILABLE', retryAfter: '90' });
    const [a] = await sendPhotos(t, alice, bob, 1);
    const before = clock.now();
    await t.drainPushes();
    const parked = await jobOf(t, a);
    expect(parked.dueAt - before).to.be.at.least(90_000);
    expect(parked.parkedAt).to.not.equal(null);

    // Sent while FCM is down: no call until the probe, which waits for the Retry-After.
    const [b, c] = await sendPhotos(t, alice, bob, 2);
    expect(await t.drainPushes()).to.equal(0);
    clock.advance(89_000);
    expect(await t.drainPushes()).to.equal(0);
    expect(f.failedCalls).to.equal(1);

    f.failNext(1, { status: 500, errorStatus: 'INTERNAL' });
    clock.advance(1000);
    expect(await t.drainPushes(), 'one probe').to.equal(1);
    expect(f.failedCalls).to.equal(2);
    clock.advance(2000); // PUSH_PROBE_MS
    expect(await t.drainPushes(), 'a probe answered, then the rest').to.equal(3);
    expect(await jobStates(t)).to.deep.equal({ sent: 3 });
    expect(f.accepted.map((p) => p.data.message_id).sort()).to.deep.equal([a, b, c].map(String).sort());
  });

  it('backs off a QUOTA_EXCEEDED push alone for at least a minute, and sends the others', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    f.failNext(1, { status: 429, errorStatus: 'RESOURCE_EXHAUSTED', errorCode: 'QUOTA_EXCEEDED' });
    const ids = await sendPhotos(t, alice, bob, 3);
    const before = clock.now();
    await t.drainPushes();
    const jobs = await Promise.all(ids.map((id) => jobOf(t, id)));
    const limited = jobs.filter((j) => j.state === 'pending');
    expect(limited).to.have.length(1);
    expect(limited[0].dueAt - before).to.be.at.least(60_000);
    expect(limited[0].parkedAt, 'not an outage').to.equal(null);
    expect(jobs.filter((j) => j.state === 'sent')).to.have.length(2);
    expect(t.services.outbox.providerState).to.equal('up');

    clock.advance(60_000);
    await t.drainPushes();
    expect(await jobStates(t)).to.deep.equal({ sent: 3 });
  });

  it('gives up after PUSH_MAX_ATTEMPTS refusals of the push itself, leaving the message in the pending list', async () => {
    const t = await app({ PUSH_MAX_ATTEMPTS: '3' });
    const { alice, bob } = await twoUsers(t);
    f.failNext(10, { status: 429, errorStatus: 'RESOURCE_EXHAUSTED', errorCode: 'QUOTA_EXCEEDED' });
    const [id] = await sendPhotos(t, alice, bob, 1);
    await drainThroughRetries(t, (ms) => clock.advance(ms), 60_000);
    const job = await jobOf(t, id);
    expect(job).to.include({ state: 'failed', attempts: 3 });
    expect(job.lastError).to.match(/^gave up after 3 attempts/);
    expect(f.failedCalls).to.equal(3);
    const pending = await t.api.get('/v1/messages').set(bob.headers);
    expect(pending.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal([id]);
  });

  it('once FCM is found down, holds back the sends not yet made: no call, no attempt counted', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    // Up to 8 sends run side by side: the first 8 fail, the other 12 are not sent at all.
    f.failNext(8, { status: 503, errorStatus: 'UNAVAILABLE' });
    const ids = await sendPhotos(t, alice, bob, 20);
    expect(await t.drainPushes()).to.equal(20);
    expect(f.failedCalls).to.equal(8);
    const jobs = await Promise.all(ids.map((id) => jobOf(t, id)));
    expect(jobs.every((j) => j.state === 'pending' && j.parkedAt !== null)).to.equal(true);
    // Neither the 8 calls FCM answered UNAVAILABLE nor the 12 held back count against the jobs.
    expect(jobs.reduce((n, j) => n + j.attempts, 0)).to.equal(0);
    expect(jobs.filter((j) => /^not sent: fcm is down/.test(j.lastError!))).to.have.length(12);

    clock.advance(2000);
    expect(await t.drainPushes()).to.equal(20);
    expect(await jobStates(t)).to.deep.equal({ sent: 20 });
    expect(f.accepted).to.have.length(20);
  });

  it('records each push as FCM answers it, while a slower one of the same batch is still in flight', async () => {
    const t = await app({ LOG_LEVEL: 'debug' });
    const { alice, bob } = await twoUsers(t);
    const carol = await buildUser(t.api);
    const [slow] = await sendPhotos(t, alice, bob, 1);
    const quick = await sendPhotos(t, alice, carol, 3);
    const gate = f.hold(1, (token) => token === bob.cid);
    const draining = t.drainPushes();
    await gate.arrived;
    await f.waitForAccepted(3);
    // Recorded, though the claim's other push has no answer yet.
    const recorded = () =>
      t.logs.lines.filter((l) => l.event === 'push.recorded').reduce((n, l) => n + Number(l.jobs), 0);
    await t.logs.waitFor(() => recorded() >= 3);
    for (const id of quick) expect(await jobOf(t, id)).to.include({ state: 'sent' });
    expect(await jobOf(t, slow)).to.include({ state: 'sending' });

    gate.release();
    expect(await draining).to.equal(4);
    expect(await jobOf(t, slow)).to.include({ state: 'sent' });
  });

  it('marks an UNREGISTERED token on its user and keeps the message pending', async () => {
    const t = await app();
    const { alice, bob } = await twoUsers(t);
    f.unregistered.add(bob.cid);
    const [id] = await sendPhotos(t, alice, bob, 1);
    await t.drainPushes();
    expect(await jobOf(t, id)).to.include({ state: 'failed' });
    expect((await t.services.db('users').where({ id: bob.uid }).first()).cid_invalid_at).to.not.equal(null);
    const pending = await t.api.get('/v1/messages').set(bob.headers);
    expect(pending.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal([id]);
  });

  it('fails for good on INVALID_ARGUMENT', async () => {
    const t = await app();
    const { alice } = await twoUsers(t);
    const carol = await buildUser(t.api);
    f.failNext(1, { status: 400, errorStatus: 'INVALID_ARGUMENT' });
    const [id] = await sendPhotos(t, alice, carol, 1);
    await t.drainPushes();
    expect(await jobOf(t, id)).to.include({ state: 'failed', lastError: 'fcm INVALID_ARGUMENT (HTTP 400)' });
  });
});
