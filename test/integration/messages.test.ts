import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { isUniqueViolation } from '../../src/db/knex';
import type { MockPushProvider } from '../../src/push/mock-push-provider';
import type { LocalBlobStore } from '../../src/storage/local-blob-store';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import { abandonUpload, multipartBody, rawPost } from '../support/raw-http';

describe('messages: send, list, download, delete', () => {
  let t: TestApp;
  let jpeg: Buffer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    t = await startTestApp({ MAX_UPLOAD_BYTES: String(256 * 1024) });
    jpeg = await makeImage('jpeg', 320, 240);
    alice = await buildUser(t.api, { nickname: 'Alice' });
    bob = await buildUser(t.api, { nickname: 'Bob' });
  });
  after(() => t.close());

  const pushes = () => (t.services.pushProvider as MockPushProvider).sent;
  const messageCount = async () => Number((await t.services.db('messages').count({ n: '*' }))[0].n);
  /** Stored files (temporary ones included) match the stored messages exactly: no orphan either way. */
  async function expectStorageConsistent() {
    const live = await t.services.db('messages').where({ exist: true }).pluck('message_key');
    const files = t.storedFiles().filter((f) => f !== '.tmp');
    expect(files.sort()).to.deep.equal(live.map((k: string) => path.join(k.slice(0, 2), k)).sort());
  }

  it('carries a photo from A to B end to end: push, pending list, download, delete, 410', async () => {
    const sentAt = Date.now();
    const sent = await sendPhoto(t.api, alice, bob, jpeg);
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
    expect(sent.body.message_id).to.be.a('number');
    expect(sent.body.message_key).to.match(/^[0-9a-f]{64}$/);
    expect(sent.body.filetype).to.equal('image/jpeg');
    expect(sent.body.send_time).to.be.within(sentAt - 5, Date.now());

    const onDisk = path.join(
      t.services.config.uploadDir,
      sent.body.message_key.slice(0, 2),
      sent.body.message_key,
    );
    expect(fs.readFileSync(onDisk).equals(jpeg)).to.equal(true);

    expect(pushes().some((p) => p.payload.message_id === sent.body.message_id)).to.equal(false);
    await t.drainPushes(); // the push goes out through the outbox, not inside the request
    const push = pushes().find((p) => p.payload.message_id === sent.body.message_id)!;
    // Every line logged while serving the send carries its request id.
    const sendLines = t.logs.lines.filter((l) => l.req_id === sent.headers['x-request-id']);
    expect(sendLines.map((l) => l.event)).to.include('http.request');
    expect(push.cid).to.equal(bob.cid);
    expect(push.body).to.include('Alice');
    expect(push.payload).to.include({
      sender_region: '86',
      sender_phone: alice.phoneHash,
      message_id: sent.body.message_id,
      message_key: sent.body.message_key,
      send_time: sent.body.send_time,
      filetype: 'image/jpeg',
    });

    const list = await t.api.get('/v1/messages').set(bob.headers);
    expect(list.status).to.equal(200);
    const listed = list.body.messages.find(
      (m: { message_id: number }) => m.message_id === sent.body.message_id,
    );
    expect(listed).to.deep.equal(push.payload);

    const download = await t.api.get(`/v1/messages/${sent.body.message_key}`).set(bob.headers).buffer(true);
    expect(download.status).to.equal(200);
    expect(download.headers['content-type']).to.equal('image/jpeg');
    expect(download.headers['content-length']).to.equal(String(jpeg.length));
    expect(Buffer.compare(download.body, jpeg)).to.equal(0);
    // The photo was sent from memory; its share of the read budget comes back once the response ends.
    const blobs = t.services.blobs as LocalBlobStore;
    for (let turn = 0; blobs.heldBytes > 0 && turn < 100; turn++) await new Promise(setImmediate);
    expect(blobs.heldBytes).to.equal(0);
    expect(blobs.spareBufferBytes).to.be.greaterThan(0); // its buffer is kept for the next download

    const del = await t.api.delete(`/v1/messages/${sent.body.message_key}`).set(bob.headers);
    expect(del.status).to.equal(204);
    expect(fs.existsSync(onDisk)).to.equal(false);
    const row = await t.services.db('messages').where({ id: sent.body.message_id }).first();
    expect(Boolean(row.exist)).to.equal(false);

    const after = await t.api.get(`/v1/messages/${sent.body.message_key}`).set(bob.headers);
    expect(after.status).to.equal(410);
    expect(after.body.error).to.equal('gone');
    expect(after.body.message).to.match(/deleted after it was downloaded/);

    const again = await t.api.delete(`/v1/messages/${sent.body.message_key}`).set(bob.headers);
    expect(again.status).to.equal(204);

    const listAfter = await t.api.get('/v1/messages').set(bob.headers);
    expect(listAfter.body.messages.map((m: { message_id: number }) => m.message_id)).not.to.include(
      sent.body.message_id,
    );
    await expectStorageConsistent();
  });

  it('detects PNG, WebP and GIF from their bytes whatever the file is called', async () => {
    for (const format of ['png', 'webp', 'gif'] as const) {
      const res = await sendPhoto(t.api, alice, bob, await makeImage(format), {}, 'holiday.jpg');
      expect(res.status, format).to.equal(201);
      expect(res.body.filetype).to.equal(`image/${format}`);
    }
  });

  it('accepts the original protocol’s credentials as multipart fields', async () => {
    const res = await t.api
      .post('/v1/messages')
      .field('phone_hash', alice.phoneHash)
      .field('ukey', alice.ukey)
      .field('receiver_uid', String(bob.uid))
      .attach('img_file', jpeg, 'a.jpg');
    expect(res.status).to.equal(201);
  });

  it('refuses wrong multipart credentials with 401 and keeps no file', async () => {
    const before = await messageCount();
    const res = await t.api
      .post('/v1/messages')
      .field('phone_hash', alice.phoneHash)
      .field('ukey', bob.ukey)
      .field('receiver_uid', String(bob.uid))
      .attach('img_file', jpeg, 'a.jpg');
    expect(res.status).to.equal(401);
    expect(await messageCount()).to.equal(before);
    await expectStorageConsistent();
  });

  it('lists pending messages oldest first, a page at a time', async () => {
    const carol = await buildUser(t.api);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await sendPhoto(t.api, alice, carol, jpeg)).body.message_id);
    const page1 = await t.api.get('/v1/messages').query({ limit: 2 }).set(carol.headers);
    expect(page1.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal(
      ids.slice(0, 2),
    );
    expect(page1.body.next_after).to.equal(ids[1]);
    const page2 = await t.api
      .get('/v1/messages')
      .query({ limit: 2, after: page1.body.next_after })
      .set(carol.headers);
    expect(page2.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal(
      ids.slice(2, 4),
    );
    const page3 = await t.api
      .get('/v1/messages')
      .query({ limit: 2, after: page2.body.next_after })
      .set(carol.headers);
    expect(page3.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal(ids.slice(4));
    expect(page3.body.next_after).to.equal(null);
  });

  it('gives a full last page no cursor, so the app stops without asking for an empty page', async () => {
    const dave = await buildUser(t.api);
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await sendPhoto(t.api, alice, dave, jpeg)).body.message_id);
    const page1 = await t.api.get('/v1/messages').query({ limit: 2 }).set(dave.headers);
    expect(page1.body.next_after).to.equal(ids[1]);
    const page2 = await t.api
      .get('/v1/messages')
      .query({ limit: 2, after: page1.body.next_after })
      .set(dave.headers);
    expect(page2.body.messages.map((m: { message_id: number }) => m.message_id)).to.deep.equal(ids.slice(2));
    expect(page2.body.next_after).to.equal(null);
  });

  it('refuses bad list parameters with 422', async () => {
    for (const query of [
      { limit: 0 },
      { limit: 100000 },
      { limit: 'ten' },
      { after: -1 },
      { after: 'x' },
      // Past the largest row id, on every database (PostgreSQL's integer column would fail the query).
      { after: '2147483648' },
      { after: '9007199254740993' },
    ]) {
      const res = await t.api.get('/v1/messages').query(query).set(bob.headers);
      expect(res.status, JSON.stringify(query)).to.equal(422);
      expect(res.body.error).to.equal('invalid_request');
    }
  });

  it('stores nothing when the push job cannot be written: no row, no file, a 500 in JSON', async () => {
    const db = t.services.db;
    const before = await messageCount();
    // A database that refuses push jobs: the message's insert must go back with the job's.
    if (db.client.config.client === 'pg') {
      await db.raw(`create function refuse_job() returns trigger language plpgsql as $$
        begin raise exception 'no jobs today'; end $$`);
      await db.raw(
        'create trigger refuse_job before insert on push_jobs for each row execute function refuse_job()',
      );
    } else {
      await db.raw(
        "create trigger refuse_job before insert on push_jobs begin select raise(abort, 'no jobs today'); end",
      );
    }
    try {
      const sent = await sendPhoto(t.api, alice, bob, jpeg);
      expect(sent.status).to.equal(500);
      expect(sent.body.error).to.equal('internal_error');
      expect(await messageCount()).to.equal(before);
      await expectStorageConsistent();
    } finally {
      await db.raw('drop trigger refuse_job' + (db.client.config.client === 'pg' ? ' on push_jobs' : ''));
      if (db.client.config.client === 'pg') await db.raw('drop function refuse_job()');
    }
    expect((await sendPhoto(t.api, alice, bob, jpeg)).status).to.equal(201);
  });

  describe('client_msg_id', () => {
    it('returns the first message for a repeat, with one stored message and one push', async () => {
      await t.drainPushes();
      const pushesBefore = pushes().length;
      const before = await messageCount();
      const first = await sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: 'retry-1' });
      const second = await sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: 'retry-1' });
      expect(first.status).to.equal(201);
      expect(second.status).to.equal(200);
      expect(second.body).to.deep.equal(first.body);
      expect(await messageCount()).to.equal(before + 1);
      await t.drainPushes();
      expect(pushes().length).to.equal(pushesBefore + 1);
      await expectStorageConsistent();
    });

    it('deduplicates simultaneous repeats too', async () => {
      const before = await messageCount();
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: 'burst-1' })),
      );
      expect(new Set(results.map((r) => r.body.message_id)).size).to.equal(1);
      expect(results.filter((r) => r.status === 201)).to.have.length(1);
      expect(await messageCount()).to.equal(before + 1);
      const jobs = await t.services.db('push_jobs').where({ message_id: results[0].body.message_id });
      expect(jobs).to.have.length(1);
      await expectStorageConsistent();
    });

    it('is per sender: another sender may use the same id', async () => {
      const a = await sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: 'shared-id' });
      const b = await sendPhoto(t.api, bob, alice, jpeg, { client_msg_id: 'shared-id' });
      expect(a.status).to.equal(201);
      expect(b.status).to.equal(201);
      expect(b.body.message_id).not.to.equal(a.body.message_id);
    });

    it('is unique per sender in the database itself, and messages without one never collide', async () => {
      const { db } = t.services;
      const row = (clientMsgId: string | null) => ({
        sender_uid: alice.uid,
        receiver_uid: bob.uid,
        message_key: crypto.randomBytes(32).toString('hex'),
        send_time: Date.now(),
        exist: true,
        filetype: 'image/jpeg',
        size: 1,
        client_msg_id: clientMsgId,
      });
      // Rows without files: removed again, so that the stored files still match the rows.
      const check = async () => {
        const rows = [row(null), row(null), row('db-level-1')];
        await db('messages').insert(rows);
        const err = await db('messages')
          .insert(row('db-level-1'))
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(isUniqueViolation(err)).to.equal(true);
        await db('messages')
          .whereIn(
            'message_key',
            rows.map((r) => r.message_key),
          )
          .del();
      };
      // Partial: sends without a client_msg_id (most) add no entry to it.
      const pg = db.client.config.client === 'pg';
      const definition = await db
        .select(pg ? 'indexdef as sql' : 'sql')
        .from(pg ? 'pg_indexes' : 'sqlite_master')
        .where(pg ? 'indexname' : 'name', 'messages_client_msg_id_unique')
        .first();
      expect(String(definition?.sql)).to.match(/where.*client_msg_id is not null/i);
      await check();
      // The partial index's migration undone (the full unique index back) and done again.
      const name = '20261121004000_partial_client_msg_id_index';
      const [, undone] = await db.migrate.down({ name });
      expect(undone).to.deep.equal([name]);
      await check();
      const [, redone] = await db.migrate.up({ name });
      expect(redone).to.deep.equal([name]);
      await check();
    });

    it('refuses a client_msg_id over 64 characters', async () => {
      const res = await sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: 'x'.repeat(65) });
      expect(res.status).to.equal(422);
      await expectStorageConsistent();
    });

    it('refuses a client_msg_id with a control character (PostgreSQL cannot store a NUL)', async () => {
      for (const clientMsgId of ['x\u0000y', 'x\ty']) {
        const res = await sendPhoto(t.api, alice, bob, jpeg, { client_msg_id: clientMsgId });
        expect(res.status, JSON.stringify(res.body)).to.equal(422);
        expect(res.body.message).to.match(/^client_msg_id: /);
      }
      await expectStorageConsistent();
    });
  });

  describe('isolation between users', () => {
    it('lets nobody but the receiver download or delete, answering exactly as for a missing key', async () => {
      const mallory = await buildUser(t.api);
      const sent = await sendPhoto(t.api, alice, bob, jpeg);
      const key = sent.body.message_key;
      const missing = await t.api.get(`/v1/messages/${'0'.repeat(64)}`).set(mallory.headers);
      expect(missing.status).to.equal(404);
      for (const who of [mallory, alice]) {
        const get = await t.api.get(`/v1/messages/${key}`).set(who.headers);
        expect(get.status).to.equal(404);
        expect(get.body).to.deep.equal(missing.body);
        const del = await t.api.delete(`/v1/messages/${key}`).set(who.headers);
        expect(del.status).to.equal(404);
      }
      const list = await t.api.get('/v1/messages').set(mallory.headers);
      expect(list.body.messages).to.deep.equal([]);
      const still = await t.api.get(`/v1/messages/${key}`).set(bob.headers);
      expect(still.status).to.equal(200);
    });

    it('needs authentication for every message route', async () => {
      expect((await t.api.get('/v1/messages')).status).to.equal(401);
      expect((await t.api.get(`/v1/messages/${'a'.repeat(64)}`)).status).to.equal(401);
      expect((await t.api.delete(`/v1/messages/${'a'.repeat(64)}`)).status).to.equal(401);
      const send = await t.api
        .post('/v1/messages')
        .field('receiver_uid', String(bob.uid))
        .attach('img_file', jpeg, 'a.jpg');
      expect(send.status).to.equal(401);
      await expectStorageConsistent();
    });

    it('answers path tricks in the key with 404', async () => {
      for (const key of ['..%2F..%2Fpushpic.sqlite', '..', '%2e%2e', 'A'.repeat(64), `${'a'.repeat(63)}/`]) {
        const res = await t.api.get(`/v1/messages/${key}`).set(bob.headers);
        expect(res.status, key).to.equal(404);
      }
    });
  });

  describe('bad uploads change nothing', () => {
    async function expectRefused(
      res: { status: number; body: Record<string, unknown> },
      status: number,
      error?: string,
    ) {
      expect(res.status, JSON.stringify(res.body)).to.equal(status);
      if (error) expect(res.body.error).to.equal(error);
      expect(res.body.message).to.be.a('string');
      await expectStorageConsistent();
    }

    it('refuses a text file renamed .jpg with 415', async () => {
      const before = await messageCount();
      const res = await sendPhoto(t.api, alice, bob, Buffer.from('just some text, honestly'), {}, 'cat.jpg');
      await expectRefused(res, 415, 'unsupported_media_type');
      expect(await messageCount()).to.equal(before);
    });

    it('refuses an empty file with 415', async () => {
      await expectRefused(await sendPhoto(t.api, alice, bob, Buffer.alloc(0), {}, 'empty.jpg'), 415);
    });

    it('refuses an unknown receiver with 404 receiver_not_found', async () => {
      await expectRefused(await sendPhoto(t.api, alice, { uid: 999999 }, jpeg), 404, 'receiver_not_found');
      // Past a 32-bit id (PostgreSQL's integer): still no such user, not a database error.
      const far = await sendPhoto(t.api, alice, { uid: 4294967296 }, jpeg);
      await expectRefused(far, 404, 'receiver_not_found');
    });

    it('refuses a missing file with 422', async () => {
      const res = await t.api.post('/v1/messages').set(alice.headers).field('receiver_uid', String(bob.uid));
      await expectRefused(res, 422, 'missing_file');
    });

    it('refuses a bad receiver_uid with 422', async () => {
      for (const uid of ['abc', '', '-3', '1.5']) {
        const res = await t.api
          .post('/v1/messages')
          .set(alice.headers)
          .field('receiver_uid', uid)
          .attach('img_file', jpeg, 'a.jpg');
        await expectRefused(res, 422, 'invalid_request');
      }
    });

    it('refuses unknown fields and extra files with 422', async () => {
      await expectRefused(
        await sendPhoto(t.api, alice, bob, jpeg, { is_admin: '1' }),
        422,
        'invalid_request',
      );
      const twoFiles = await t.api
        .post('/v1/messages')
        .set(alice.headers)
        .field('receiver_uid', String(bob.uid))
        .attach('img_file', jpeg, 'a.jpg')
        .attach('other', jpeg, 'b.jpg');
      await expectRefused(twoFiles, 422, 'invalid_request');
    });

    it('refuses a JSON body with 415', async () => {
      const res = await t.api.post('/v1/messages').set(alice.headers).send({ receiver_uid: bob.uid });
      await expectRefused(res, 415, 'unsupported_content_type');
    });

    it('answers who is asking before what is wrong with the body: 401 before 415', async () => {
      await expectRefused(await t.api.post('/v1/messages'), 401, 'unauthorized');
      await expectRefused(
        await t.api.post('/v1/messages').set('Content-Type', 'text/plain').send('hello'),
        401,
        'unauthorized',
      );
      // A send's credentials come in headers, the query or its multipart fields, never in a JSON body.
      const inJson = { phone_hash: alice.phoneHash, ukey: alice.ukey, receiver_uid: bob.uid };
      await expectRefused(await t.api.post('/v1/messages').send(inJson), 401, 'unauthorized');
      // Known caller: the body is what is wrong.
      await expectRefused(
        await t.api.post('/v1/messages').set(alice.headers),
        415,
        'unsupported_content_type',
      );
    });

    it('refuses an upload over MAX_UPLOAD_BYTES with 413 while streaming (chunked, no length)', async () => {
      const big = Buffer.concat([jpeg, Buffer.alloc(300 * 1024, 7)]);
      const body = multipartBody([
        { name: 'receiver_uid', value: String(bob.uid) },
        { name: 'img_file', value: big, filename: 'big.jpg', type: 'image/jpeg' },
      ]);
      const res = await rawPost(t.port, '/v1/messages', alice.headers, body);
      await expectRefused(res, 413, 'payload_too_large');
    });

    it('refuses a declared length over the limit before reading the body', async () => {
      const body = multipartBody([{ name: 'receiver_uid', value: String(bob.uid) }]);
      // 10 bytes of a declared 50 MB: the answer comes before the body, which is never read.
      const res = await rawPost(
        t.port,
        '/v1/messages',
        alice.headers,
        body.subarray(0, 10),
        50 * 1024 * 1024,
      );
      expect(res.body.error).to.equal('payload_too_large');
      expect(res.status).to.equal(413);
      await expectStorageConsistent();
    });

    it('refuses a truncated multipart body with 400 malformed_multipart', async () => {
      const body = multipartBody([
        { name: 'receiver_uid', value: String(bob.uid) },
        { name: 'img_file', value: jpeg, filename: 'a.jpg', type: 'image/jpeg' },
      ]);
      const res = await rawPost(t.port, '/v1/messages', alice.headers, body.subarray(0, body.length - 200));
      await expectRefused(res, 400, 'malformed_multipart');
    });

    it('refuses garbage that claims to be multipart with 400', async () => {
      const res = await rawPost(t.port, '/v1/messages', alice.headers, Buffer.from('not multipart at all'));
      await expectRefused(res, 400, 'malformed_multipart');
    });

    it('leaves no file behind when the client disconnects mid-upload', async () => {
      const before = await messageCount();
      const body = multipartBody([
        { name: 'receiver_uid', value: String(bob.uid) },
        { name: 'img_file', value: jpeg, filename: 'a.jpg', type: 'image/jpeg' },
      ]);
      const linesBefore = t.logs.lines.length;
      await abandonUpload(t.port, alice.headers, body.subarray(0, body.length / 2), body.length);
      // The access log line is written once the request has finished, cleanup included.
      await t.logs.waitFor(
        (l) =>
          l.event === 'http.request' && l.path === '/v1/messages' && t.logs.lines.indexOf(l) >= linesBefore,
      );
      expect(await messageCount()).to.equal(before);
      await expectStorageConsistent();
    });
  });
});
