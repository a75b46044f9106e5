import crypto from 'node:crypto';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { loadConfig } from '../../src/config';
import { knexConfig } from '../../src/db/knex';
import { messagesRepository } from '../../src/db/messages-repository';
import { pushJobsRepository } from '../../src/db/push-jobs-repository';
import { usersRepository } from '../../src/db/users-repository';
import { createLogger } from '../../src/logger';
import { PushOutbox } from '../../src/outbox/push-outbox';
import type { PushOutcome, PushProvider, PushRequest } from '../../src/push/push-provider';
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
    const users = usersRepository(db);
    const uid = await users.insert({
      cid: 'cid-1',
      ukeyHash: 'x'.repeat(64),
      regionNum: '86',
      phoneNum: '+8613800000000',
      phoneHash: 'h'.repeat(64),
      nickname: 'Pat',
      regTime: 1,
    });
    const messages = messagesRepository(db);
    const jobs = pushJobsRepository(db);
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
          jobs: pushJobsRepository(wdb),
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
});
