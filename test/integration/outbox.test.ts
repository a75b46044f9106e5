import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { messagesRepository } from '../../src/db/messages-repository';
import { localHost } from '../../src/outbox/lease-owner';
import { createLogger } from '../../src/logger';
import { PushOutbox } from '../../src/outbox/push-outbox';
import { MockPushProvider } from '../../src/push/mock-push-provider';
import type { PushOutcome, PushProvider, PushRequest } from '../../src/push/push-provider';
import { TestClock } from '../support/clock';
import { LogSink } from '../support/log-sink';
import { jobOf, newMessage, sendPhotos, twoUsers } from '../support/push-fixtures';
import { makeImage } from '../support/images';
import { sendPhoto } from '../support/factories';
import { startTestApp, type TestApp } from '../support/test-app';

describe('push outbox', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  const pushes = () => (t.services.pushProvider as MockPushProvider).sent;
  const count = async (table: string) => Number((await t.services.db(table).count({ n: '*' }))[0].n);

  it('commits the push job with the message: a 201 always has its job, due at once', async () => {
    const { alice, bob } = await twoUsers(t);
    const before = Date.now();
    const [id] = await sendPhotos(t, alice, bob, 1);
    const job = await jobOf(t, id);
    expect(job).to.include({ state: 'pending', attempts: 0 });
    expect(job.dueAt).to.be.within(before, Date.now());
  });

  it('stores no message when its push job cannot be written', async () => {
    const { alice, bob } = await twoUsers(t);
    const messages = await count('messages');
    await t.services.db.schema.renameTable('push_jobs', 'push_jobs_away');
    try {
      const res = await sendPhoto(t.api, alice, bob, await makeImage('png', 8, 8));
      expect(res.status).to.equal(500);
    } finally {
      await t.services.db.schema.renameTable('push_jobs_away', 'push_jobs');
    }
    expect(await count('messages'), 'the message insert was rolled back').to.equal(messages);
    const live = await t.services.db('messages').where({ exist: true }).count({ n: '*' });
    expect(t.storedFiles().filter((f) => f !== '.tmp')).to.have.length(Number(live[0].n));
  });

  it('skips the push of a message deleted before the worker reached it', async () => {
    const { alice, bob } = await twoUsers(t);
    await t.drainPushes();
    const sent = await sendPhoto(t.api, alice, bob, await makeImage('png', 8, 8));
    expect((await t.api.delete(`/v1/messages/${sent.body.message_key}`).set(bob.headers)).status).to.equal(
      204,
    );
    const before = pushes().length;
    await t.drainPushes();
    expect(pushes().length).to.equal(before);
    expect(await jobOf(t, sent.body.message_id)).to.include({ state: 'skipped' });
  });

  it('drains to nothing due, and a second drain finds nothing', async () => {
    const { alice, bob } = await twoUsers(t);
    await sendPhotos(t, alice, bob, 3);
    expect(await t.drainPushes()).to.be.at.least(3);
    expect(await t.drainPushes()).to.equal(0);
  });

  describe('the jobs of a worker that died', () => {
    const clock = new TestClock();
    let c: TestApp;
    before(async () => {
      c = await startTestApp({}, { now: clock.now });
    });
    after(() => c.close());
    const holdBy = async (owner: string, n: number, leaseMs: number) => {
      const { alice, bob } = await twoUsers(c);
      const ids = await sendPhotos(c, alice, bob, n);
      const held = await c.services.pushJobs.claim(owner, clock.now(), leaseMs, n);
      expect(held.map((j) => j.message.messageId).sort()).to.deep.equal([...ids].sort());
      return ids;
    };
    const sentOf = (ids: number[]) =>
      (c.services.pushProvider as MockPushProvider).sent.filter((r) => ids.includes(r.payload.message_id));

    it('are taken over at the first claim when it ran on this host and is no longer running', async () => {
      // A process that has exited: its pid is free (as after kill -9).
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      const gone = await holdBy(`${localHost()}:${dead}:0badf00d:3`, 3, 3_600_000);
      // A worker of this host that still runs (this process's parent): its lease is left to it.
      const alive = await holdBy(`${localHost()}:${process.ppid}:0badf00d:1`, 2, 3_600_000);
      // A worker of another host: nothing here says whether it runs.
      const elsewhere = await holdBy(`other-host:${dead}:0badf00d:1`, 2, 3_600_000);

      expect(await c.drainPushes()).to.equal(3);
      expect(sentOf(gone)).to.have.length(3);
      for (const id of gone) expect(await jobOf(c, id)).to.include({ state: 'sent', attempts: 2 });
      for (const id of [...alive, ...elsewhere]) expect(await jobOf(c, id)).to.include({ state: 'sending' });
      const line = c.logs.lines.find((l) => l.event === 'push.leases_taken_over');
      expect(line).to.deep.include({ jobs: 3 });
    });

    it('elsewhere are retaken once the short default lease (10 s) has run out', async () => {
      const before = clock.now();
      const ids = await holdBy('other-host:4242:0badf00d:9', 2, c.services.config.push.leaseMs);
      const after = clock.now();
      for (const id of ids) {
        expect((await jobOf(c, id)).dueAt, 'the lease ends 10 s after the claim').to.be.within(
          before + 10_000,
          after + 10_000,
        );
      }
      clock.advance(10_000);
      expect(await c.drainPushes()).to.be.at.least(2);
      for (const id of ids) expect(await jobOf(c, id)).to.include({ state: 'sent', attempts: 2 });
    });
  });

  it('adds push_jobs.parked_at, and undoes it, with jobs in the table', async () => {
    const { alice, bob } = await twoUsers(t);
    const [id] = await sendPhotos(t, alice, bob, 1);
    const { db } = t.services;
    await db('push_jobs').where({ message_id: id }).update({ parked_at: 1, provider: 'getui' });
    const name = '20261201000400_add_parked_at_to_push_jobs';
    const [, undone] = await db.migrate.down({ name });
    expect(undone).to.deep.equal([name]);
    expect(await db.schema.hasColumn('push_jobs', 'parked_at')).to.equal(false);
    expect(await jobOf(t, id)).to.include({ state: 'pending', parkedAt: null });
    const [, redone] = await db.migrate.up({ name });
    expect(redone).to.deep.equal([name]);
    expect(await jobOf(t, id)).to.include({ parkedAt: null });
    await db('push_jobs').where({ message_id: id }).update({ parked_at: 1 });
    expect(await t.services.pushJobs.release('getui', 5)).to.equal(1);
    expect(await jobOf(t, id)).to.include({ parkedAt: null, dueAt: 5 });
  });

  describe('a job committed while the loop runs', () => {
    // A poll of ten minutes and a window of one: nothing goes out on its own while the test looks.
    const held = { PUSH_POLL_MS: '600000', PUSH_BATCH_WINDOW_MS: '60000' };
    let w: TestApp;
    beforeEach(async () => {
      w = await startTestApp(held, { startWorker: true });
    });
    afterEach(() => w.close());
    const sentTo = (app: TestApp, id: number) =>
      (app.services.pushProvider as MockPushProvider).sent.filter((r) => r.payload.message_id === id);

    it('is written leased to its own outbox, which pushes it once without claiming it', async () => {
      const { alice, bob } = await twoUsers(w);
      const before = Date.now();
      const [id] = await sendPhotos(w, alice, bob, 1);
      const job = await jobOf(w, id);
      expect(job).to.include({ state: 'sending', attempts: 1 });
      expect(job.dueAt, 'its lease').to.be.at.least(before + w.services.config.push.leaseMs);
      // Leased: no other worker can claim it.
      expect(await w.services.pushJobs.claim('other-worker:1', Date.now(), 1000, 10)).to.deep.equal([]);

      await w.services.outbox.stop();
      expect(sentTo(w, id)).to.have.length(1);
      expect(await jobOf(w, id)).to.include({ state: 'sent', attempts: 1 });
    });

    it('is kept in memory when the database fails as its batch reads it, and pushed in the next', async () => {
      const { alice, bob } = await twoUsers(w);
      const [id] = await sendPhotos(w, alice, bob, 1);
      const { db, outbox } = w.services;
      await db.schema.renameTable('push_jobs', 'push_jobs_away');
      try {
        const err = await outbox.runOnce().then(
          () => null,
          (e: unknown) => e,
        );
        expect(String(err)).to.match(/push_jobs/);
      } finally {
        await db.schema.renameTable('push_jobs_away', 'push_jobs');
      }
      await outbox.stop(); // without waiting for its lease to run out
      expect(sentTo(w, id)).to.have.length(1);
      expect(await jobOf(w, id)).to.include({ state: 'sent', attempts: 1 });
    });

    it('waits while a due claim runs, and is served before a second claim', async () => {
      // Retries are found by claims: one runs once PUSH_POLL_MS has passed, handed jobs or not, but never
      // twice in a row while handed jobs wait (a slow claim must not starve them).
      const clock = new TestClock();
      const c = await startTestApp(
        { ...held, PUSH_LEASE_MS: '3600000' },
        { startWorker: true, now: clock.now },
      );
      try {
        const { alice, bob } = await twoUsers(c);
        const { outbox } = c.services;
        const [retry] = await sendPhotos(c, alice, bob, 1);
        expect(await outbox.runOnce(), 'the first, handed over').to.equal(1);
        // Its push is due again (as after a failed attempt), and another message is handed over.
        await c.services
          .db('push_jobs')
          .where({ message_id: retry })
          .update({ state: 'pending', due_at: clock.now(), lease_owner: null });
        const [handed] = await sendPhotos(c, alice, bob, 1);
        clock.advance(600_001);
        expect(await outbox.runOnce(), 'a claim, its poll time come').to.equal(1);
        clock.advance(600_001);
        expect(await outbox.runOnce(), 'the handed job, not a second claim').to.equal(1);
        const order = (c.services.pushProvider as MockPushProvider).sent.map((r) => r.payload.message_id);
        expect(order).to.deep.equal([retry, retry, handed]);
        expect(await jobOf(c, retry)).to.include({ state: 'sent', attempts: 2 });
        expect(await jobOf(c, handed)).to.include({ state: 'sent', attempts: 1 });
      } finally {
        await c.close();
      }
    });

    it('is left to a claim once too little of its lease is left to push it safely', async () => {
      const clock = new TestClock();
      const c = await startTestApp(held, { startWorker: true, now: clock.now });
      try {
        const { alice, bob } = await twoUsers(c);
        const [id] = await sendPhotos(c, alice, bob, 1);
        // 15 of its 60 s left: another process could claim it before this batch's first renewal (20 s).
        clock.advance(45_000);
        expect(await c.services.outbox.runOnce(true)).to.equal(0);
        expect((c.services.pushProvider as MockPushProvider).sent).to.deep.equal([]);
        clock.advance(15_001); // the lease has run out: the claim takes it, once
        expect(await c.services.outbox.runOnce()).to.equal(1);
        expect(await jobOf(c, id)).to.include({ state: 'sent', attempts: 2 });
      } finally {
        await c.close();
      }
    });

    it('is pushed once by another worker if its process dies first, and not again by its outbox', async () => {
      const { alice, bob } = await twoUsers(w);
      const [id] = await sendPhotos(w, alice, bob, 1);
      // Another instance, its clock past the lease: as if the first process had died holding the job.
      const other = new MockPushProvider(createLogger('silent', new LogSink()));
      const worker = new PushOutbox({
        jobs: w.services.pushJobs,
        provider: other,
        logger: createLogger('silent', new LogSink()),
        settings: w.services.config.push,
        now: () => Date.now() + w.services.config.push.leaseMs + 1000,
      });
      expect(await worker.drain()).to.equal(1);
      expect(other.sent.map((r) => r.payload.message_id)).to.deep.equal([id]);
      expect(await jobOf(w, id)).to.include({ state: 'sent', attempts: 2 });

      await w.services.outbox.stop(); // the first outbox still holds the job in memory
      expect(sentTo(w, id), 'pushed twice').to.deep.equal([]);
    });
  });

  it('renews the leases of the handed jobs it still holds while a batch is slow, and only those', async () => {
    const a = await startTestApp();
    try {
      const { alice, bob } = await twoUsers(a);
      // The first push is answered only when the test says so; the next ones at once.
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => (answer = resolve));
      let called!: () => void;
      const inFlight = new Promise<void>((resolve) => (called = resolve));
      const slow: PushProvider = {
        name: 'slow',
        send: async (_r: PushRequest) => {
          called();
          await answered;
          return { kind: 'sent', taskId: 'slow' };
        },
      };
      const logs = new LogSink();
      const worker = new PushOutbox({
        jobs: a.services.pushJobs,
        provider: slow,
        logger: createLogger('debug', logs),
        settings: {
          ...a.services.config.push,
          leaseMs: 1000,
          batchSize: 1,
          pollMs: 600_000,
          batchWindowMs: 60_000,
        },
        now: () => Date.now(),
      });
      worker.start();
      const repo = messagesRepository(a.services.database);
      const store = async () => {
        const m = await repo.insertWithPushJob(newMessage(alice.uid, bob.uid), Date.now(), worker.lease());
        return m!.messageId;
      };
      const [inBatch, waiting, dropped] = [await store(), await store(), await store()];
      worker.hand(inBatch);
      worker.hand(waiting);
      // `dropped` is leased to the same outbox but no longer in its memory (as after a failure): not renewed.
      const leaseEnd = async (id: number) => (await jobOf(a, id)).dueAt;
      const before = {
        inBatch: await leaseEnd(inBatch),
        waiting: await leaseEnd(waiting),
        dropped: await leaseEnd(dropped),
      };
      const draining = worker.runOnce(); // or the loop's own round, woken by hand(): either takes inBatch
      await inFlight;
      await logs.waitFor((l) => l.event === 'push.lease_extended');
      expect(await leaseEnd(inBatch)).to.be.greaterThan(before.inBatch);
      expect(await leaseEnd(waiting)).to.be.greaterThan(before.waiting);
      expect(await leaseEnd(dropped)).to.equal(before.dropped);
      answer();
      await draining;
      await worker.stop(); // pushes the one still waiting, if the loop has not yet
      expect(await jobOf(a, inBatch)).to.include({ state: 'sent', attempts: 1 });
      expect(await jobOf(a, waiting)).to.include({ state: 'sent', attempts: 1 });
      await a.services.db('push_jobs').where({ message_id: dropped }).del();
      await a.services.db('messages').where({ id: dropped }).del();
    } finally {
      await a.close();
    }
  });

  it('renews the lease of a claim whose pushes are slow, so no other worker takes its jobs', async () => {
    const { alice, bob } = await twoUsers(t);
    await t.drainPushes();
    const [id] = await sendPhotos(t, alice, bob, 1);
    // A provider that answers only when told to: the push stays in flight as long as the test wants.
    let answer!: (o: PushOutcome) => void;
    let called!: () => void;
    const inFlight = new Promise<void>((resolve) => (called = resolve));
    const slow: PushProvider = {
      name: 'slow',
      send: (_r: PushRequest) => {
        called();
        return new Promise<PushOutcome>((resolve) => (answer = resolve));
      },
    };
    const logs = new LogSink();
    const leaseMs = 1000;
    const worker = new PushOutbox({
      jobs: t.services.pushJobs,
      provider: slow,
      logger: createLogger('debug', logs),
      settings: { ...t.services.config.push, leaseMs },
      now: () => Date.now(),
    });
    const draining = worker.drain();
    await inFlight;
    const firstLeaseEnd = (await jobOf(t, id)).dueAt;
    await logs.waitFor((l) => l.event === 'push.lease_extended');
    const renewed = await jobOf(t, id);
    expect(renewed.state).to.equal('sending');
    expect(renewed.dueAt).to.be.greaterThan(firstLeaseEnd);
    expect(await t.services.pushJobs.claim('other-worker:1', firstLeaseEnd, leaseMs, 10)).to.deep.equal([]);

    answer({ kind: 'sent', taskId: 'slow-1' });
    expect(await draining).to.equal(1);
    expect(await jobOf(t, id)).to.include({ state: 'sent', taskId: 'slow-1', attempts: 1 });
  });
});
