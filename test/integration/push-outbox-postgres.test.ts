import crypto from 'node:crypto';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { loadConfig } from '../../src/config';
import { knexConfig, withoutLane } from '../../src/db/knex';
import { messagesRepository } from '../../src/db/messages-repository';
import { pushJobsRepository } from '../../src/db/push-jobs-repository';
import { usersRepository } from '../../src/db/users-repository';
import { createLogger } from '../../src/logger';
import { PushOutbox } from '../../src/outbox/push-outbox';
import { GetuiClient } from '../../src/push/getui-client';
import type { PushOutcome, PushProvider, PushRequest } from '../../src/push/push-provider';
import { TestClock } from '../support/clock';
import { GetuiStandin } from '../support/getui-standin';
import { newMessage } from '../support/push-fixtures';

/**
 * Several server processes on one PostgreSQL: each claims with FOR UPDATE SKIP LOCKED, so no job is
 * pushed twice. Runs when TEST_DATABASE_URL names a PostgreSQL server (it creates and drops its own
 * database there), e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test.
 */
const adminUrl = process.env.TEST_DATABASE_URL;

(adminUrl ? describe : describe.skip)('push outbox on PostgreSQL: several workers', () => {
  const name = `pushpic_outbox_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  let admin: Knex;
  const pools: Knex[] = [];
  const pool = () => {
    const url = new URL(adminUrl!);
    url.pathname = `/${name}`;
    const db = knexFactory(knexConfig(loadConfig({ DATABASE_URL: url.toString() }).database));
    pools.push(db);
    return db;
  };

  before(async () => {
    admin = knexFactory({ client: 'pg', connection: adminUrl });
    await admin.raw(`CREATE DATABASE ${name}`);
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.destroy()));
    await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
    await admin.destroy();
  });

  it('pushes each of 300 jobs exactly once with three workers draining side by side', async () => {
    const db = pool();
    await db.migrate.latest();
    const users = usersRepository(withoutLane(db));
    const uid = await users.insert({
      cid: 'cid-1',
      ukeyHash: 'x'.repeat(64),
      regionNum: '86',
      phoneNum: '+8613800000000',
      phoneHash: 'h'.repeat(64),
      nickname: 'Pat',
      regTime: 1,
    });
    const messages = messagesRepository(withoutLane(db));
    const jobs = pushJobsRepository(withoutLane(db));
    for (let i = 0; i < 300; i++) {
      await messages.insertWithPushJob(newMessage(uid, uid, i), Date.now());
    }

    const received: string[] = [];
    const provider: PushProvider = {
      name: 'counting',
      async send(r: PushRequest): Promise<PushOutcome> {
        await new Promise((resolve) => setImmediate(resolve)); // let the other workers claim meanwhile
        received.push(r.requestId);
        return { kind: 'sent', taskId: r.requestId };
      },
    };
    const settings = { ...loadConfig({}).push, batchSize: 10 };
    const workers = [pool(), pool(), pool()].map(
      (wdb) =>
        new PushOutbox({
          jobs: pushJobsRepository(withoutLane(wdb)),
          provider,
          logger: createLogger('silent'),
          settings,
          now: () => Date.now(),
        }),
    );
    const handled = await Promise.all(workers.map((w) => w.drain()));

    expect(received).to.have.length(300);
    expect(new Set(received).size).to.equal(300);
    expect(handled.reduce((a, b) => a + b, 0)).to.equal(300);
    expect(handled.filter((n) => n > 0).length, 'the work was shared').to.be.greaterThan(1);
    const { byState } = await jobs.stats(Date.now());
    expect(byState).to.deep.include({ pending: 0, sending: 0, sent: 300 });
  });

  it('releases the jobs one worker parked on a GeTui outage when another sees GeTui answer again', async () => {
    const db = pool();
    await db.migrate.latest();
    const uid = await usersRepository(withoutLane(db)).insert({
      cid: 'cid-2',
      ukeyHash: 'y'.repeat(64),
      regionNum: '86',
      phoneNum: '+8613800000001',
      phoneHash: 'i'.repeat(64),
      nickname: 'Sam',
      regTime: 1,
    });
    const messages = messagesRepository(withoutLane(db));
    const ids: number[] = [];
    for (let i = 0; i < 40; i++)
      ids.push((await messages.insertWithPushJob(newMessage(uid, uid), 1))!.messageId);

    const g = await new GetuiStandin().start();
    const clock = new TestClock();
    g.now = clock.now;
    try {
      const settings = { ...loadConfig({}).push, batchSize: 20 };
      /** An instance: its own pool, GeTui client and outbox; counts its calls to GeTui. */
      const instance = () => {
        const client = new GetuiClient({
          ...g.credentials,
          baseUrl: g.baseUrl,
          ttlMs: 60_000,
          timeoutMs: 5000,
          logger: createLogger('silent'),
          now: clock.now,
        });
        let calls = 0;
        const provider: PushProvider = {
          name: client.name,
          maxBatch: client.maxBatch,
          send: (r) => (calls++, client.send(r)),
          sendBatch: (rs, onOutcome) => (calls++, client.sendBatch(rs, onOutcome)),
        };
        const jobs = pushJobsRepository(withoutLane(pool()));
        const outbox = new PushOutbox({
          jobs,
          provider,
          logger: createLogger('silent'),
          settings,
          now: clock.now,
        });
        return { outbox, calls: () => calls };
      };
      const [a, b] = [instance(), instance()];
      const parked = () =>
        db('push_jobs').whereIn('message_id', ids).whereNotNull('parked_at').pluck('message_id');

      await g.outage();
      expect(await a.outbox.runOnce()).to.equal(20);
      const parkedByA: number[] = await parked();
      expect(parkedByA).to.have.length(20);
      expect(await b.outbox.runOnce()).to.equal(20);
      expect(await parked()).to.have.length(40);
      expect([a.outbox.providerState, b.outbox.providerState]).to.deep.equal(['failing', 'failing']);

      await g.recover();
      clock.advance(settings.probeMs);
      // Only b looks: its probe is answered, and its release (an UPDATE) frees a's jobs too.
      expect(await b.outbox.drain()).to.equal(40);
      expect(a.calls(), 'a made no call after the outage began').to.equal(1);
      expect(b.calls()).to.equal(1 + 1 + 2); // its failed batch, the probe, the 39 others in two batches
      const sent = await db('push_jobs')
        .whereIn('message_id', ids)
        .where('state', 'sent')
        .pluck('message_id');
      expect(sent).to.have.members(ids);
      expect(new Set(g.accepted.map((p) => p.transmission.message_id)).size).to.equal(40);
      expect(g.repeats).to.deep.equal([]);
    } finally {
      await g.close();
    }
  });
});
