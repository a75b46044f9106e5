import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { loadConfig } from '../../src/config';
import { createDb, type Db } from '../../src/db/knex';
import { localHost } from '../../src/outbox/lease-owner';
import { mapLimit } from '../../src/push/map-limit';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { FcmStandin } from '../support/fcm-standin';
import { makeImage } from '../support/images';
import { BOUNDARY, multipartBody } from '../support/raw-http';
import { startS3, type S3StandIn } from '../support/s3-standin';
import { spawnServer, type ServerProcess } from '../support/server-process';
import { OWNER_MARKER } from '../../src/storage/blob-store';
import { freshDatabase, TEST_DATABASE_URL } from '../support/test-app';

/** Files under the uploads folder, as <shard>/<key>, temporary ones as .tmp/<name>. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .flatMap((e) => (e.isFile() ? [path.relative(dir, path.join(e.parentPath, e.name))] : []))
    .filter((f) => f !== OWNER_MARKER);
}

describe('real server processes', function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void>;
  let db: Db;
  let jpeg: Buffer;
  /** Every server started, recorded before it is up, so cleanup finds it even if a test fails early. */
  const started: Promise<ServerProcess | null>[] = [];

  function start(extra: Record<string, string> = {}) {
    const server = spawnServer({ ...env, ...extra });
    started.push(server.catch(() => null));
    return server;
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-proc-'));
    const database = await freshDatabase(dir);
    dropDatabase = database.drop;
    env = {
      ...database.env,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      RATE_LIMIT_REGISTER_PER_IP: 'off',
      RATE_LIMIT_SEND_PER_USER: 'off',
      RATE_LIMIT_SEND_PER_IP: 'off',
      ORPHAN_GRACE: '0',
    };
    db = createDb(loadConfig(env).database);
    jpeg = await makeImage('jpeg', 640, 480);
  });

  afterEach(async () => {
    for (const s of await Promise.all(started.splice(0))) {
      if (!s) continue;
      if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      await s.exited;
    }
    await db.destroy();
    await dropDatabase();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing answered 201 and leaves no orphan when killed -9 in the middle of a stream of sends', async () => {
    const first = await start();
    const api = supertest.agent(first.url);
    const alice = await buildUser(api);
    const bob = await buildUser(api);

    const accepted: { message_id: number; message_key: string }[] = [];
    let killed = false;
    const sender = async () => {
      while (!killed) {
        try {
          const res = await api
            .post('/v1/messages')
            .set(alice.headers)
            .field('receiver_uid', String(bob.uid))
            .attach('img_file', jpeg, 'a.jpg');
          if (res.status === 201) accepted.push(res.body);
          if (accepted.length >= 12 && !killed) {
            killed = true;
            first.proc.kill('SIGKILL'); // while the other senders are mid-upload
          }
        } catch {
          return; // the connection died with the server
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    expect(await first.exited).to.equal('SIGKILL');
    expect(accepted.length).to.be.at.least(12);

    const second = await start();
    await second.waitFor((l) => l.event === 'sweeper.startup');

    const live: string[] = await db('messages').where({ exist: true }).pluck('message_key');
    for (const m of accepted) expect(live).to.include(m.message_key);
    // ...each with the push job committed alongside it.
    const jobs: number[] = await db('push_jobs').pluck('message_id');
    for (const m of accepted) expect(jobs).to.include(m.message_id);
    const files = filesUnder(env.UPLOAD_DIR);
    expect(files.filter((f) => f.startsWith('.tmp'))).to.deep.equal([]);
    expect(files.map((f) => path.basename(f)).sort()).to.deep.equal([...live].sort());

    const api2 = supertest.agent(second.url);
    for (const m of accepted.slice(0, 3)) {
      const res = await api2.get(`/v1/messages/${m.message_key}`).set(bob.headers).buffer(true);
      expect(res.status).to.equal(200);
      expect(Buffer.compare(res.body, jpeg)).to.equal(0);
    }
  });

  it('after kill -9 with pushes in flight, the restarted server takes over the dead one’s jobs at once; a repeated FCM push carries the same message', async () => {
    const f = await new FcmStandin().start();
    try {
      fs.writeFileSync(path.join(dir, 'service-account.json'), f.serviceAccountJson());
      const fcm = {
        PUSH_PROVIDER: 'fcm',
        FCM_SERVICE_ACCOUNT_FILE: path.join(dir, 'service-account.json'),
        FCM_BASE_URL: f.baseUrl,
        FCM_TOKEN_URL: f.tokenUrl,
        // Far longer than this test: only the take-over can explain a job retaken in time.
        PUSH_LEASE_MS: '600000',
      };
      const first = await start(fcm);
      const api = supertest.agent(first.url);
      const alice = await buildUser(api);
      const bob = await buildUser(api);
      // FCM holds every push it receives: the first process's pushes stay in flight.
      const gate = f.hold(1);
      const ids = await mapLimit(Array.from({ length: 12 }), 4, async () => {
        const res = await sendPhoto(api, alice, bob, jpeg);
        expect(res.status).to.equal(201);
        return res.body.message_id as number;
      });
      await gate.arrived;
      first.proc.kill('SIGKILL');
      expect(await first.exited).to.equal('SIGKILL');

      // Every job is still leased to the dead process, for minutes yet.
      const held = await db('push_jobs').whereIn('message_id', ids);
      expect(held).to.have.length(12);
      for (const job of held) {
        expect(job.state).to.equal('sending');
        expect(job.lease_owner).to.match(new RegExp(`^${localHost()}:${first.proc.pid}:`));
      }
      const leaseEnd = new Map(held.map((j) => [j.message_id as number, Number(j.due_at)]));
      // FCM takes what it had received whole: those pushes are accepted, their answers lost.
      const inFlight = gate.waiting();
      gate.release();
      await f.waitForAccepted(inFlight);

      const second = await start(fcm);
      const taken = await second.waitFor((l) => l.event === 'push.leases_taken_over');
      expect(taken.jobs).to.equal(12);
      for (const id of ids) await second.waitFor((l) => l.event === 'push.sent' && l.message_id === id);
      second.proc.kill('SIGTERM'); // the outbox records what it sent before the process exits
      expect(await second.exited).to.equal(0);
      for (const job of await db('push_jobs').whereIn('message_id', ids)) {
        expect(job.state).to.equal('sent');
        expect(Number(job.finished_at), 'pushed long before its lease ran out').to.be.below(
          leaseEnd.get(job.message_id)!,
        );
      }

      // A message pushed twice (in flight at the kill) carries the same data both times: the app, which
      // deduplicates on message_id, shows it once.
      const byMessage = new Map<string, typeof f.accepted>();
      for (const push of f.accepted) {
        byMessage.set(push.data.message_id, [...(byMessage.get(push.data.message_id) ?? []), push]);
      }
      expect([...byMessage.keys()].sort()).to.deep.equal(ids.map(String).sort());
      const repeated = [...byMessage.values()].filter((p) => p.length > 1);
      expect(repeated.length).to.be.at.least(1);
      for (const [first, ...again] of repeated) {
        for (const push of again) expect(push.data).to.deep.equal(first.data);
      }
    } finally {
      await f.close();
    }
  });

  it('on SIGTERM stops accepting, finishes the upload in flight, and exits cleanly', async () => {
    const server = await start();
    const api = supertest.agent(server.url);
    const alice = await buildUser(api);
    const bob = await buildUser(api);
    const body = multipartBody([
      { name: 'receiver_uid', value: String(bob.uid) },
      { name: 'img_file', value: jpeg, filename: 'a.jpg', type: 'image/jpeg' },
    ]);

    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
    });
    socket.write(
      [
        'POST /v1/messages HTTP/1.1',
        'Host: 127.0.0.1',
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
        `Content-Length: ${body.length}`,
        `X-Phone-Hash: ${alice.phoneHash}`,
        `X-Ukey: ${alice.ukey}`,
        '',
        '',
      ].join('\r\n'),
    );
    const half = Math.floor(body.length / 2);
    await new Promise((resolve) => socket.write(body.subarray(0, half), resolve));

    server.proc.kill('SIGTERM');
    await server.waitFor((l) => l.event === 'server.stopping');
    const refused = await new Promise<boolean>((resolve) => {
      const probe = net.connect(server.port, '127.0.0.1');
      probe.once('connect', () => (probe.destroy(), resolve(false)));
      probe.once('error', () => resolve(true));
    });
    expect(refused, 'a new connection after SIGTERM').to.equal(true);

    socket.write(body.subarray(half)); // not end(): a client that half-closes has abandoned its request
    const response = await answer;
    expect(response).to.match(/^HTTP\/1\.1 201 /);
    expect(await server.exited).to.equal(0);
    const key = /"message_key":"([0-9a-f]{64})"/.exec(response)![1];
    expect(await db('messages').where({ message_key: key, exist: true })).to.have.length(1);
    expect(server.logs.some((l) => l.event === 'server.stopped')).to.equal(true);
  });

  describe('two instances on one PostgreSQL and one bucket', () => {
    let s3: S3StandIn;
    before(async function () {
      if (!TEST_DATABASE_URL) this.skip();
      s3 = await startS3();
    });
    after(async () => {
      await s3?.close();
    });

    it('serve each other’s messages, and the receiver is pushed exactly once', async () => {
      const [one, two] = await Promise.all([start(s3.env), start(s3.env)]);
      const api1 = supertest.agent(one.url);
      const api2 = supertest.agent(two.url);
      const alice: TestUser = await buildUser(api1);
      const bob: TestUser = await buildUser(api2);

      const sent = await api1
        .post('/v1/messages')
        .set(alice.headers)
        .field('receiver_uid', String(bob.uid))
        .attach('img_file', jpeg, 'a.jpg');
      expect(sent.status).to.equal(201);
      const key: string = sent.body.message_key;

      const list = await api2.get('/v1/messages').set(bob.headers);
      expect(list.body.messages.map((m: { message_key: string }) => m.message_key)).to.deep.equal([key]);
      const download = await api2.get(`/v1/messages/${key}`).set(bob.headers).buffer(true);
      expect(Buffer.compare(download.body, jpeg)).to.equal(0);
      expect((await api2.delete(`/v1/messages/${key}`).set(bob.headers)).status).to.equal(204);
      expect((await api1.get(`/v1/messages/${key}`).set(bob.headers)).status).to.equal(410);

      const pushed = (s: ServerProcess) =>
        s.logs.filter((l) => l.event === 'push.mock_sent' && l.message_id === sent.body.message_id).length;
      await Promise.race([
        one.waitFor((l) => l.event === 'push.mock_sent'),
        two.waitFor((l) => l.event === 'push.mock_sent'),
      ]);
      expect(pushed(one) + pushed(two)).to.equal(1);
      const job = await db('push_jobs').where({ message_id: sent.body.message_id }).first();
      expect(job).to.include({ state: 'sent', attempts: 1 });
    });
  });
});
