import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser, nextPhone } from '../support/factories';

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('users: register, authenticate, profile', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  const register = (body: unknown) => t.api.post('/v1/register').send(body as object);
  const userCount = async () => Number((await t.services.db('users').count({ n: '*' }))[0].n);

  describe('POST /v1/register', () => {
    it('returns a uid and a url-safe ukey of at least 128 bits, storing only its hash', async () => {
      const phone = nextPhone();
      const res = await register({ cid: 'c1', region_num: '86', phone_num: phone, nickname: '  Ann  ' });
      expect(res.status).to.equal(201);
      expect(res.body).to.have.keys('uid', 'ukey');
      expect(res.body.ukey).to.match(/^[A-Za-z0-9_-]{22,}$/);
      const row = await t.services.db('users').where({ id: res.body.uid }).first();
      expect(row.phone_num).to.equal(`+86${phone}`);
      expect(row.phone_hash).to.equal(sha256(`+86${phone}`));
      expect(row.nickname).to.equal('Ann');
      expect(row.region_num).to.equal('86');
      expect(JSON.stringify(row)).not.to.include(res.body.ukey);
      expect(row.ukey_hash).to.equal(sha256(res.body.ukey));
    });

    it('gives two registrations different ukeys', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api);
      expect(a.ukey).not.to.equal(b.ukey);
      expect(b.uid).to.be.greaterThan(a.uid);
    });

    for (const [label, region, format] of [
      [
        '"+86" and international format',
        '+86',
        (p: string) => `+86 ${p.slice(0, 3)} ${p.slice(3, 7)} ${p.slice(7)}`,
      ],
      [
        'ISO "CN" and national format with dashes',
        'CN',
        (p: string) => `${p.slice(0, 3)}-${p.slice(3, 7)}-${p.slice(7)}`,
      ],
      ['a numeric region_num', 86, (p: string) => p],
    ] as const) {
      it(`accepts ${label}, normalising to E.164`, async () => {
        const phone = nextPhone();
        const res = await register({ cid: 'c', region_num: region, phone_num: format(phone), nickname: 'N' });
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
        const row = await t.services.db('users').where({ id: res.body.uid }).first();
        expect(row.phone_num).to.equal(`+86${phone}`);
        expect(row.region_num).to.equal('86');
      });
    }

    it('registers a US number with region 1 (the phone_hash example in README)', async () => {
      const res = await register({ cid: 'c', region_num: 'US', phone_num: '(201) 555-0123', nickname: 'Bo' });
      expect(res.status).to.equal(201);
      const row = await t.services.db('users').where({ id: res.body.uid }).first();
      expect(row.phone_num).to.equal('+12015550123');
      expect(row.region_num).to.equal('1');
    });

    for (const [label, region, phone] of [
      ['too few digits', '86', '1380013'],
      ['letters', '86', 'call me'],
      ['a number of another country', '86', '+12015550123'],
      ['an unknown region', 'XX', '13800138000'],
      ['a landline-shaped but invalid number', '86', '0000000000'],
      // Calling codes no country has: libphonenumber throws on them rather than answering "invalid".
      ['the unknown calling code 999', '999', '13800138000123'],
      ['the unknown calling code +0', '+0', '13800138000123'],
      ['the unknown calling code 0 as a number', 0, '13800138000123'],
      ['the unknown calling code 347', '347', '1380013800012345'],
    ] as const) {
      it(`refuses ${label} with 422 invalid_phone_number and writes nothing`, async () => {
        const before = await userCount();
        const res = await register({ cid: 'c', region_num: region, phone_num: phone, nickname: 'N' });
        expect(res.status).to.equal(422);
        expect(res.body.error).to.equal('invalid_phone_number');
        expect(res.body.message).to.be.a('string').and.not.be.empty;
        expect(await userCount()).to.equal(before);
      });
    }

    it('answers 409 phone_already_registered for a number already taken, in any format', async () => {
      const phone = nextPhone();
      expect(
        (await register({ cid: 'a', region_num: '86', phone_num: phone, nickname: 'A' })).status,
      ).to.equal(201);
      const again = await register({
        cid: 'b',
        region_num: 'CN',
        phone_num: `+86${phone}`,
        nickname: 'Thief',
      });
      expect(again.status).to.equal(409);
      expect(again.body.error).to.equal('phone_already_registered');
      const rows = await t.services.db('users').where({ phone_num: `+86${phone}` });
      expect(rows).to.have.length(1);
      expect(rows[0].nickname).to.equal('A');
    });

    it('lets only one of two simultaneous registrations of a number win', async () => {
      const phone = nextPhone();
      const results = await Promise.all(
        [1, 2, 3].map((i) =>
          register({ cid: `c${i}`, region_num: '86', phone_num: phone, nickname: `N${i}` }),
        ),
      );
      expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
    });

    for (const [label, body, field] of [
      ['a missing cid', { region_num: '86', nickname: 'N' }, 'cid'],
      ['a cid over 4096 characters', { cid: 'x'.repeat(4097), region_num: '86', nickname: 'N' }, 'cid'],
      ['a blank nickname', { cid: 'c', region_num: '86', nickname: '   ' }, 'nickname'],
      ['a 65-character nickname', { cid: 'c', region_num: '86', nickname: 'é'.repeat(65) }, 'nickname'],
      [
        'a nickname with a control character',
        { cid: 'c', region_num: '86', nickname: 'a\u0000b' },
        'nickname',
      ],
      ['a cid with a NUL', { cid: 'a\u0000b', region_num: '86', nickname: 'N' }, 'cid'],
      ['a cid of the wrong type', { cid: 42, region_num: '86', nickname: 'N' }, 'cid'],
      [
        'an object as phone_num',
        { cid: 'c', region_num: '86', nickname: 'N', phone_num: { $gt: '' } },
        'phone_num',
      ],
      ['an unknown field', { cid: 'c', region_num: '86', nickname: 'N', is_admin: true }, 'is_admin'],
    ] as const) {
      it(`refuses ${label} with 422 naming the field`, async () => {
        const before = await userCount();
        const res = await register({ phone_num: nextPhone(), ...body });
        expect(res.status).to.equal(422);
        expect(res.body.error).to.equal('invalid_request');
        expect(res.body.message).to.include(field);
        expect(await userCount()).to.equal(before);
      });
    }

    it('registers an FCM registration token as cid (about 160 characters; providers promise no length)', async () => {
      // The shape of a real FCM token: an instance id, a colon, then APA91b and base64url.
      const token = `dXk2Y3J1T0VjR0E6APA91b${'F7x-Qm_3kLr9vZ'.repeat(10)}`.slice(0, 163);
      const phone = nextPhone();
      const res = await register({ cid: token, region_num: '86', phone_num: phone, nickname: 'F' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const me = await t.api
        .get('/v1/me')
        .set('X-Phone-Hash', sha256(`+86${phone}`))
        .set('X-Ukey', res.body.ukey);
      expect(me.body.cid).to.equal(token);
      const longest = 'y'.repeat(4096);
      const put = await t.api
        .put('/v1/me/cid')
        .set('X-Phone-Hash', sha256(`+86${phone}`))
        .set('X-Ukey', res.body.ukey)
        .send({ cid: longest });
      expect(put.status).to.equal(204);
    });

    it('accepts a 64-character nickname of emoji', async () => {
      const res = await register({
        cid: 'c',
        region_num: '86',
        phone_num: nextPhone(),
        nickname: '📷'.repeat(64),
      });
      expect(res.status).to.equal(201);
    });

    it('answers malformed JSON with 400 invalid_json', async () => {
      const res = await t.api
        .post('/v1/register')
        .set('Content-Type', 'application/json')
        .send('{"cid": "c",');
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({
        error: 'invalid_json',
        message: 'The request body is not valid JSON.',
      });
    });

    it('answers valid JSON that is not an object with one 422 that says so', async () => {
      const before = await userCount();
      for (const body of ['[]', '"AAA"', '0', '42', 'null', 'true', '[{"cid":"c"}]']) {
        const res = await t.api.post('/v1/register').set('Content-Type', 'application/json').send(body);
        expect(res.status, body).to.equal(422);
        expect(res.body, body).to.deep.equal({
          error: 'invalid_request',
          message: 'body: must be a JSON object',
        });
      }
      expect(await userCount()).to.equal(before);
    });

    it('answers a body that is not JSON with 415', async () => {
      const res = await t.api.post('/v1/register').set('Content-Type', 'text/plain').send('cid=c');
      expect(res.status).to.equal(415);
      expect(res.body.error).to.equal('unsupported_content_type');
    });

    it('answers a huge body with 413', async () => {
      const res = await register({
        cid: 'c',
        region_num: '86',
        phone_num: nextPhone(),
        nickname: 'x'.repeat(200_000),
      });
      expect(res.status).to.equal(413);
      expect(res.body.error).to.equal('payload_too_large');
    });
  });

  describe('authentication', () => {
    it('accepts X-Phone-Hash and X-Ukey headers', async () => {
      const u = await buildUser(t.api);
      const res = await t.api.get('/v1/me').set(u.headers);
      expect(res.status).to.equal(200);
      expect(res.body.uid).to.equal(u.uid);
    });

    it('accepts phone_hash and ukey in the query string', async () => {
      const u = await buildUser(t.api);
      const res = await t.api.get('/v1/me').query({ phone_hash: u.phoneHash, ukey: u.ukey });
      expect(res.status).to.equal(200);
      expect(res.body.uid).to.equal(u.uid);
    });

    it('accepts phone_hash and ukey in a JSON body', async () => {
      const u = await buildUser(t.api);
      const res = await t.api
        .put('/v1/me/cid')
        .send({ phone_hash: u.phoneHash, ukey: u.ukey, cid: 'from-body' });
      expect(res.status).to.equal(204);
      expect((await t.api.get('/v1/me').set(u.headers)).body.cid).to.equal('from-body');
    });

    it('answers a wrong key and an unknown phone identically with 401', async () => {
      const u = await buildUser(t.api);
      const wrongKey = await t.api
        .get('/v1/me')
        .set({ 'X-Phone-Hash': u.phoneHash, 'X-Ukey': u.ukey.slice(1) + 'A' });
      const unknown = await t.api
        .get('/v1/me')
        .set({ 'X-Phone-Hash': sha256('+8613999999999'), 'X-Ukey': u.ukey });
      const missing = await t.api.get('/v1/me');
      const halfMissing = await t.api.get('/v1/me').set({ 'X-Phone-Hash': u.phoneHash });
      for (const res of [wrongKey, unknown, missing, halfMissing]) {
        expect(res.status).to.equal(401);
        expect(res.body).to.deep.equal(wrongKey.body);
      }
      expect(wrongKey.body.error).to.equal('unauthorized');
    });

    it('does not accept another user’s ukey with my phone hash', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api);
      const res = await t.api.get('/v1/me').set({ 'X-Phone-Hash': a.phoneHash, 'X-Ukey': b.ukey });
      expect(res.status).to.equal(401);
    });
  });

  describe('profile and cid', () => {
    it('GET /v1/me shows my own profile', async () => {
      const u = await buildUser(t.api, { nickname: 'Me' });
      const res = await t.api.get('/v1/me').set(u.headers);
      expect(res.body).to.include({
        uid: u.uid,
        cid: u.cid,
        nickname: 'Me',
        region_num: '86',
      });
      expect(res.body.phone_hash).to.equal(u.phoneHash);
      // No route returns a phone number, the caller's own included.
      expect(res.body).not.to.have.any.keys('phone_num');
      expect(JSON.stringify(res.body)).not.to.include(u.e164.slice(3));
      expect(res.body.reg_time)
        .to.be.a('number')
        .within(Date.now() - 60_000, Date.now());
      expect(res.body).not.to.have.any.keys('ukey', 'ukey_hash');
    });

    it('PUT /v1/me/cid replaces the push client id', async () => {
      const u = await buildUser(t.api);
      const res = await t.api.put('/v1/me/cid').set(u.headers).send({ cid: 'new-device-cid' });
      expect(res.status).to.equal(204);
      expect((await t.api.get('/v1/me').set(u.headers)).body.cid).to.equal('new-device-cid');
    });

    it('PUT /v1/me/cid refuses an empty or missing cid and keeps the old one', async () => {
      const u = await buildUser(t.api);
      for (const body of [{ cid: '' }, {}, { cid: ['x'] }, { cid: 'a\u0000b' }, { cid: 'a\nb' }]) {
        const res = await t.api.put('/v1/me/cid').set(u.headers).send(body);
        expect(res.status).to.equal(422);
      }
      expect((await t.api.get('/v1/me').set(u.headers)).body.cid).to.equal(u.cid);
    });

    it('PUT /v1/me/cid answers wrong header credentials with 401 before looking at the body', async () => {
      const u = await buildUser(t.api);
      const wrong = { 'X-Phone-Hash': u.phoneHash, 'X-Ukey': 'wrong' };
      const notJson = await t.api.put('/v1/me/cid').set(wrong).set('Content-Type', 'text/plain').send('x');
      expect(notJson.status).to.equal(401);
      const bad = await t.api.put('/v1/me/cid').set(wrong).send({ cid: '' });
      expect(bad.status).to.equal(401);
      // Credentials in the JSON body still work.
      const inBody = await t.api
        .put('/v1/me/cid')
        .send({ cid: 'new-cid', phone_hash: u.phoneHash, ukey: u.ukey });
      expect(inBody.status).to.equal(204);
    });

    it('GET /v1/users/:uid shows uid, nickname and region, never the phone', async () => {
      const a = await buildUser(t.api);
      const b = await buildUser(t.api, { nickname: 'Bea' });
      const res = await t.api.get(`/v1/users/${b.uid}`).set(a.headers);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ uid: b.uid, nickname: 'Bea', region_num: '86' });
      expect(JSON.stringify(res.body)).not.to.include(b.e164.slice(3));
    });

    it('GET /v1/users/:uid answers 404 for an unknown or malformed uid', async () => {
      const a = await buildUser(t.api);
      const pastRowIds = ['2147483648', '9007199254740993', '99999999999999999999'];
      for (const uid of ['999999', '0', '-1', 'abc', '1e3', ...pastRowIds]) {
        const res = await t.api.get(`/v1/users/${uid}`).set(a.headers);
        expect(res.status, uid).to.equal(404);
        expect(res.body.error).to.equal('user_not_found');
      }
    });

    it('GET /v1/users/:uid needs authentication', async () => {
      const b = await buildUser(t.api);
      expect((await t.api.get(`/v1/users/${b.uid}`)).status).to.equal(401);
    });
  });

  describe('the rest of the surface', () => {
    it('GET /healthz answers 200 while the database answers', async () => {
      const res = await t.api.get('/healthz');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'ok' });
    });

    it('answers what the HTTP parser refuses (headers over 16 KB, a malformed request) with the JSON error body', async () => {
      const rawAnswer = (request: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(t.port, '127.0.0.1', () => socket.end(request));
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
          socket.on('error', reject);
        });
      for (const [request, status, code] of [
        [`GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Ukey: ${'u'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
        ['GET /v1/me HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400, 'bad_request'],
      ] as const) {
        const answer = await rawAnswer(request);
        const [head, body] = answer.split('\r\n\r\n');
        expect(head.split('\r\n')[0]).to.match(new RegExp(`^HTTP/1.1 ${status} `));
        expect(head).to.match(/\r\nContent-Type: application\/json; charset=utf-8\r\n/);
        expect(head).to.match(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
        expect(JSON.parse(body)).to.have.keys('error', 'message').and.include({ error: code });
      }
    });

    it('answers unknown routes with a JSON 404 and wrong methods with a JSON 405', async () => {
      const missing = await t.api.get('/v1/nothing-here');
      expect(missing.status).to.equal(404);
      expect(missing.body.error).to.equal('not_found');
      const wrong = await t.api.patch('/v1/register').send({});
      expect(wrong.status).to.equal(405);
      expect(wrong.body.error).to.equal('method_not_allowed');
    });

    it('names the methods a route accepts in Allow on every 405, as on OPTIONS', async () => {
      const u = await buildUser(t.api);
      const key = 'a'.repeat(64);
      const allowed = (header: string | undefined) => (header ?? '').split(/,\s*/).sort();
      for (const [method, path, allow] of [
        ['patch', '/v1/register', ['POST']],
        ['delete', '/v1/me', ['GET', 'HEAD']],
        ['put', '/v1/messages', ['GET', 'HEAD', 'POST']],
        ['post', `/v1/messages/${key}`, ['DELETE', 'GET', 'HEAD']],
      ] as const) {
        const res = await t.api[method](path).set(u.headers);
        expect(res.status, `${method} ${path}`).to.equal(405);
        expect(res.body.error).to.equal('method_not_allowed');
        expect(allowed(res.headers.allow), `${method} ${path}`).to.deep.equal(allow);
        const options = await t.api.options(path);
        expect(options.status).to.equal(200);
        expect(allowed(options.headers.allow), `OPTIONS ${path}`).to.deep.equal(allow);
      }
      // A method no route has (the router's 501) gets the same answer, not a 5xx.
      const odd = await new Promise<{ status: number; allow: string | undefined; body: string }>(
        (resolve, reject) => {
          const req = http.request(
            { port: t.port, host: '127.0.0.1', method: 'PURGE', path: '/v1/me' },
            (res) => {
              let body = '';
              res
                .on('data', (d) => (body += d))
                .on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow, body }));
            },
          );
          req.on('error', reject).end();
        },
      );
      expect(odd.status).to.equal(405);
      expect(allowed(odd.allow)).to.deep.equal(['GET', 'HEAD']);
      expect(JSON.parse(odd.body).error).to.equal('method_not_allowed');
      // The same method on a path no route has is a 404, not a 405 that allows nothing.
      const nowhere = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { port: t.port, host: '127.0.0.1', method: 'PROPFIND', path: '/nope' },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on('error', reject).end();
      });
      expect(nowhere.status).to.equal(404);
      expect(JSON.parse(nowhere.body).error).to.equal('not_found');
    });

    it('never logs ukeys or phone numbers', async () => {
      const u = await buildUser(t.api);
      await t.api.get('/v1/me').query({ phone_hash: u.phoneHash, ukey: u.ukey });
      await t.api.get('/v1/me').set(u.headers);
      const all = t.logs.raw.join('\n');
      expect(all).not.to.include(u.ukey);
      expect(all).not.to.include(u.e164.slice(3));
      expect(all).not.to.include(u.phoneHash);
    });
  });
});
