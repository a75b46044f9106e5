import http from 'node:http';
import { expect } from 'chai';
import supertest from 'supertest';
import { withSendLane } from '../../src/http/send-lane';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import { abandonUpload, BOUNDARY, multipartBody } from '../support/raw-http';
import { startLaneServer, type LaneServer } from '../support/lane-server';
import { startTestApp, type TestApp } from '../support/test-app';

type Part = Parameters<typeof multipartBody>[0][number];

/**
 * The send lane answers a photo sent with header credentials without Koa. These tests run a second server
 * on the same services whose Koa app counts the requests handed to it, and send each body twice: with the
 * credentials in the headers (the lane's) and with them in the multipart fields (the original protocol's form, which
 * only Koa takes). Both must answer alike.
 */
describe('send lane', () => {
  let t: TestApp;
  let laneServer: LaneServer;
  let lane: supertest.Agent;
  let jpeg: Buffer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    t = await startTestApp();
    laneServer = await startLaneServer(t.services, withSendLane);
    lane = laneServer.agent;
    jpeg = await makeImage('jpeg', 320, 240);
    alice = await buildUser(t.api);
    bob = await buildUser(t.api);
  });
  after(async () => {
    await laneServer.close();
    await t.close();
  });

  /** Temporary files left in the uploads folder. */
  const tempFiles = () => t.storedFiles().filter((f) => f.startsWith('.tmp/'));
  const messageCount = async () => Number((await t.services.db('messages').count({ n: '*' }))[0].n);
  const photo = (value: Buffer = jpeg): Part => ({
    name: 'img_file',
    value,
    filename: 'a.jpg',
    type: 'image/jpeg',
  });
  const receiver = (uid: number | string = bob.uid): Part => ({ name: 'receiver_uid', value: String(uid) });

  /** alice's credentials as multipart fields, when they go there rather than in the headers. */
  const credentialParts = (where: 'headers' | 'fields'): Part[] =>
    where === 'fields'
      ? [
          { name: 'phone_hash', value: alice.phoneHash },
          { name: 'ukey', value: alice.ukey },
        ]
      : [];

  /** Posts parts with alice's credentials in the headers (the lane) or in the fields (Koa). */
  async function post(parts: Part[], where: 'headers' | 'fields', cut = 0, headers: object = {}) {
    const body = multipartBody([...credentialParts(where), ...parts]);
    const before = laneServer.koaAnswered();
    const res = await lane
      .post('/v1/messages')
      .set(where === 'headers' ? alice.headers : {})
      .set(headers as Record<string, string>)
      .set('Content-Type', `multipart/form-data; boundary=${BOUNDARY}`)
      .send(body.subarray(0, body.length - cut));
    return { res, byKoa: laneServer.koaAnswered() > before };
  }

  /** The headers two answers must share: all but the date and the request id. */
  const comparable = (headers: Record<string, string>) => {
    const { date: _date, 'x-request-id': requestId, ...rest } = headers;
    expect(requestId).to.match(/^[0-9a-f-]{36}$/);
    return rest;
  };

  it('answers a send without Koa, with the status, headers and body the Koa route sends', async () => {
    const before = await messageCount();
    const fast = await post([receiver(), photo()], 'headers');
    const slow = await post([receiver(), photo()], 'fields');
    expect(fast.byKoa).to.equal(false);
    expect(slow.byKoa).to.equal(true);
    for (const { res } of [fast, slow]) expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(comparable(fast.res.headers)).to.deep.equal(comparable(slow.res.headers));
    const shape = ({
      message_id: _id,
      message_key: _key,
      send_time: _time,
      ...rest
    }: Record<string, unknown>) => rest;
    expect(shape(fast.res.body)).to.deep.equal(shape(slow.res.body));
    expect(fast.res.body).to.include({ filetype: 'image/jpeg', width: 320, height: 240 });
    expect(await messageCount()).to.equal(before + 2);
    // The lane's message is stored, pushed and downloadable like any other.
    expect(await t.drainPushes()).to.equal(2);
    const download = await t.api
      .get(`/v1/messages/${fast.res.body.message_key}`)
      .set(bob.headers)
      .buffer(true);
    expect(download.status).to.equal(200);
    expect(download.body.length).to.equal(fast.res.body.size);
  });

  it('answers every refused send as the Koa route does, storing nothing and leaving no file', async () => {
    // [what, parts, status, error code, bytes cut off the end, the message when it names our own limit]
    const cases: [string, Part[], number, string, number?, string?][] = [
      [
        'text renamed .jpg',
        [receiver(), photo(Buffer.from('just some text'))],
        415,
        'unsupported_media_type',
      ],
      ['an empty file', [receiver(), photo(Buffer.alloc(0))], 415, 'unsupported_media_type'],
      ['no file', [receiver()], 422, 'missing_file'],
      ['an unknown receiver', [receiver(999999), photo()], 404, 'receiver_not_found'],
      ['a bad receiver_uid', [receiver('1.5'), photo()], 422, 'invalid_request'],
      ['an unknown field', [receiver(), { name: 'is_admin', value: '1' }, photo()], 422, 'invalid_request'],
      ['two files', [receiver(), photo(), { ...photo(), name: 'other' }], 422, 'invalid_request'],
      ['a truncated body', [receiver(), photo()], 400, 'malformed_multipart', 200],
      ['a truncated JPEG', [receiver(), photo(jpeg.subarray(0, 600))], 422, 'invalid_image'],
      [
        'a repeated field',
        [receiver(), receiver(), photo()],
        422,
        'invalid_request',
        0,
        'receiver_uid: send it once',
      ],
      [
        'a field over 1 KB',
        [receiver(), { name: 'client_msg_id', value: 'x'.repeat(1025) }, photo()],
        422,
        'invalid_request',
        0,
        'client_msg_id: too long',
      ],
      [
        'a __proto__ field',
        [receiver(), { name: '__proto__', value: '{}' }, photo()],
        422,
        'invalid_request',
        0,
        'body: unknown field __proto__', // a field like any other, not the fields' prototype
      ],
      [
        'too many fields',
        [...Array.from({ length: 9 }, (_, i) => ({ name: `f${i}`, value: '1' })), photo()],
        422,
        'invalid_request',
        0,
        'body: too many fields',
      ],
      [
        'a 65-character field name',
        [receiver(), { name: 'n'.repeat(65), value: '1' }, photo()],
        422,
        'invalid_request',
        0,
        'body: every part needs a name of at most 64 characters',
      ],
    ];
    const before = await messageCount();
    for (const [what, parts, status, code, cut, message] of cases) {
      const fast = await post(parts, 'headers', cut);
      const slow = await post(parts, 'fields', cut);
      expect([fast.byKoa, slow.byKoa], what).to.deep.equal([false, true]);
      expect(fast.res.status, `${what}: ${JSON.stringify(fast.res.body)}`).to.equal(status);
      expect(fast.res.body, what).to.deep.equal(slow.res.body);
      expect(fast.res.body.error, what).to.equal(code);
      if (message) expect(fast.res.body.message, what).to.equal(message);
      expect(comparable(fast.res.headers), what).to.deep.equal(comparable(slow.res.headers));
      expect(tempFiles(), what).to.deep.equal([]);
    }
    expect(await messageCount()).to.equal(before);
  });

  it('answers a body cut short inside a small photo with 400, by either path, and keeps serving', async () => {
    // The whole body arrives at once and the photo part is tiny, so the parser meets the cut before the
    // photo's file is even open: the file stream's error must still be handled.
    const cutShort = (where: 'headers' | 'fields' | 'none') =>
      Buffer.concat([
        multipartBody([...(where === 'fields' ? credentialParts('fields') : []), receiver()]).subarray(
          0,
          -`--${BOUNDARY}--\r\n`.length,
        ),
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="img_file"; filename="a.jpg"\r\n\r\nabc`,
        ),
      ]);
    for (const where of ['headers', 'fields', 'none'] as const) {
      const res = await lane
        .post('/v1/messages')
        .set(where === 'headers' ? alice.headers : {})
        .set('Content-Type', `multipart/form-data; boundary=${BOUNDARY}`)
        .send(cutShort(where));
      expect(res.status, where).to.equal(400);
      expect(res.body.error, where).to.equal('malformed_multipart');
    }
    expect(tempFiles()).to.deep.equal([]);
    expect((await post([receiver(), photo()], 'headers')).res.status).to.equal(201);
  });

  it('leaves nothing behind when the client goes away mid-upload, by either path', async () => {
    const before = await messageCount();
    const port = laneServer.port;
    for (const where of ['headers', 'fields'] as const) {
      const body = multipartBody([...credentialParts(where), receiver(), photo()]);
      const id = `abandoned-${where}`;
      const headers = { ...(where === 'headers' ? alice.headers : {}), 'X-Request-Id': id };
      await abandonUpload(port, headers, body.subarray(0, body.length / 2), body.length);
      // The access line is written once the request has finished, its cleanup included.
      const line = await t.logs.waitFor((l) => l.req_id === id && l.event === 'http.request');
      expect(line.status, where).to.equal(400);
      expect(tempFiles(), where).to.deep.equal([]);
    }
    expect(await messageCount()).to.equal(before);
  });

  it('finishes a send whose client left at once, whenever it left, by either path', async () => {
    // The whole request is sent, then the connection dropped: depending on when the server notices (before
    // or after reading the body: on PostgreSQL the credentials check waits for the database), it answers
    // 400 or stores the photo, but it always finishes the request and leaves no temporary file.
    const before = await messageCount();
    for (const where of ['headers', 'fields'] as const) {
      const body = multipartBody([...credentialParts(where), receiver(), photo(jpeg.subarray(0, 2000))]);
      const id = `dropped-${where}`;
      const headers = { ...(where === 'headers' ? alice.headers : {}), 'X-Request-Id': id };
      await abandonUpload(laneServer.port, headers, body, body.length);
      const line = await t.logs.waitFor((l) => l.req_id === id && l.event === 'http.request');
      expect([201, 400, 422], where).to.include(line.status);
    }
    expect(tempFiles()).to.deep.equal([]);
    expect(await messageCount()).to.be.at.most(before + 2);
  });

  it('refuses wrong credentials and a declared length over the limit before reading the body', async () => {
    const wrong = await post([receiver(), photo()], 'headers', 0, { 'X-Ukey': 'wrong' });
    expect(wrong.byKoa).to.equal(false);
    expect(wrong.res.status).to.equal(401);
    expect(wrong.res.body).to.include({ error: 'unauthorized' });

    const tooLong = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: laneServer.port,
        path: '/v1/messages',
        method: 'POST',
        headers: {
          ...alice.headers,
          'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`,
          'Content-Length': String(50 * 1024 * 1024),
        },
      });
      req.on('response', resolve).on('error', reject);
      req.write('--' + BOUNDARY); // 18 bytes of a declared 50 MB: the answer comes without the rest
    });
    tooLong.resume();
    expect(tooLong.statusCode).to.equal(413);
    expect(tempFiles()).to.deep.equal([]);
    tooLong.socket.destroy();
  });

  it('logs and counts its sends as the Koa route does, under the client’s request id', async () => {
    const route = 'method="POST",route="/v1/messages"';
    const counted = async (status: number) => {
      const text = (await t.api.get('/metrics')).text;
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('pushpic_http_requests_total') &&
            l.includes(route) &&
            l.includes(`status="${status}"`),
        );
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const [created, refused] = [await counted(201), await counted(422)];
    const sent = await post([receiver(), photo()], 'headers', 0, { 'X-Request-Id': 'send-lane-1' });
    const bad = await post([receiver('x'), photo()], 'headers', 0, { 'X-Request-Id': 'send-lane-2' });
    expect([sent.byKoa, bad.byKoa]).to.deep.equal([false, false]);
    expect(sent.res.headers['x-request-id']).to.equal('send-lane-1');
    expect(bad.res.headers['x-request-id']).to.equal('send-lane-2');
    expect([await counted(201), await counted(422)]).to.deep.equal([created + 1, refused + 1]);
    for (const [id, status] of [
      ['send-lane-1', 201],
      ['send-lane-2', 422],
    ] as const) {
      const line = t.logs.lines.find((l) => l.req_id === id && l.event === 'http.request');
      expect(line, id).to.include({ method: 'POST', path: '/v1/messages', status });
      expect(JSON.stringify(line)).not.to.include(alice.ukey);
    }
  });

  it('leaves to Koa the sends it does not take', async () => {
    const query = `phone_hash=${alice.phoneHash}&ukey=${encodeURIComponent(alice.ukey)}`;
    const before = laneServer.koaAnswered();
    const inQuery = await lane
      .post(`/v1/messages?${query}`)
      .field('receiver_uid', String(bob.uid))
      .attach('img_file', jpeg, 'a.jpg');
    expect(inQuery.status).to.equal(201);
    const json = await lane.post('/v1/messages').set(alice.headers).send({ receiver_uid: bob.uid });
    expect(json.status).to.equal(415);
    const noBody = await lane.post('/v1/messages').set(alice.headers);
    expect(noBody.status).to.equal(415);
    expect(laneServer.koaAnswered()).to.equal(before + 3);
  });
});

describe('send lane: the upload limit', () => {
  it('takes a photo of exactly MAX_UPLOAD_BYTES and refuses one byte more, by either path', async () => {
    const jpeg = await makeImage('jpeg', 64, 48);
    for (const [limit, status] of [
      [jpeg.length, 201],
      [jpeg.length - 1, 413],
    ] as const) {
      const t = await startTestApp({ MAX_UPLOAD_BYTES: String(limit) });
      try {
        const [alice, bob] = [await buildUser(t.api), await buildUser(t.api)];
        const query = `phone_hash=${alice.phoneHash}&ukey=${encodeURIComponent(alice.ukey)}`;
        const viaLane = await sendPhoto(t.api, alice, bob, jpeg);
        const viaKoa = await t.api
          .post(`/v1/messages?${query}`)
          .field('receiver_uid', String(bob.uid))
          .attach('img_file', jpeg, 'a.jpg');
        expect([viaLane.status, viaKoa.status], `limit ${limit}`).to.deep.equal([status, status]);
        expect(t.storedFiles().filter((f) => f.startsWith('.tmp/'))).to.deep.equal([]);
      } finally {
        await t.close();
      }
    }
  });
});

describe('send lane behind a proxy', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ TRUST_PROXY: 'true', RATE_LIMIT_SEND_PER_IP: '1/1m' });
  });
  after(() => t.close());

  it('limits sends per address by X-Forwarded-For, as Koa reads it', async () => {
    const jpeg = await makeImage('jpeg', 64, 48);
    const [alice, bob] = [await buildUser(t.api), await buildUser(t.api)];
    const send = (forwarded: string) =>
      t.api
        .post('/v1/messages')
        .set(alice.headers)
        .set('X-Forwarded-For', forwarded)
        .field('receiver_uid', String(bob.uid))
        .attach('img_file', jpeg, 'a.jpg');
    expect((await send('203.0.113.1, 10.0.0.1')).status).to.equal(201);
    const refused = await send('203.0.113.1');
    expect(refused.status).to.equal(429);
    expect(refused.headers['retry-after']).to.match(/^\d+$/);
    expect((await send('203.0.113.2')).status).to.equal(201);
  });
});
