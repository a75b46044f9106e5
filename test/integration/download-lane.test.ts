import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { expect } from 'chai';
import supertest from 'supertest';
import { withDownloadLane } from '../../src/http/download-lane';
import type { LocalBlobStore } from '../../src/storage/local-blob-store';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import { startLaneServer, type LaneServer } from '../support/lane-server';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * The download lane answers a successful download without Koa. These tests run a second server on the same
 * services whose Koa app counts the requests handed to it, so they see which side answered.
 */
describe('download lane', () => {
  let t: TestApp;
  let laneServer: LaneServer;
  let lane: supertest.Agent;
  let jpeg: Buffer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    t = await startTestApp();
    laneServer = await startLaneServer(t.services, withDownloadLane);
    lane = laneServer.agent;
    jpeg = await makeImage('jpeg', 320, 240);
    alice = await buildUser(t.api);
    bob = await buildUser(t.api);
  });
  after(async () => {
    await laneServer.close();
    await t.close();
  });

  const heldBytes = () => (t.services.blobs as LocalBlobStore).heldBytes;

  async function sentKey(): Promise<string> {
    const sent = await sendPhoto(t.api, alice, bob, jpeg);
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
    return sent.body.message_key;
  }

  /** The download's answer through the given server, and whether Koa answered it. */
  async function get(agent: supertest.Agent, url: string, headers: Record<string, string> = bob.headers) {
    const before = laneServer.koaAnswered();
    const res = await agent.get(url).set(headers).buffer(true);
    return { res, byKoa: laneServer.koaAnswered() > before };
  }

  it('answers a download without Koa, with the headers and bytes the Koa route sends', async () => {
    const key = await sentKey();
    const { res: fast, byKoa } = await get(lane, `/v1/messages/${key}`);
    expect(byKoa).to.equal(false);
    // The same download through Koa: credentials in the query string are not the lane's.
    const query = `phone_hash=${bob.phoneHash}&ukey=${encodeURIComponent(bob.ukey)}`;
    const { res: slow, byKoa: slowByKoa } = await get(lane, `/v1/messages/${key}?${query}`, {});
    expect(slowByKoa).to.equal(true);

    for (const res of [fast, slow]) {
      expect(res.status).to.equal(200);
      expect(Buffer.compare(res.body, jpeg)).to.equal(0);
    }
    const comparable = (headers: Record<string, string>) => {
      const { date: _date, 'x-request-id': requestId, ...rest } = headers;
      expect(requestId).to.match(/^[0-9a-f-]{36}$/);
      return rest;
    };
    expect(comparable(fast.headers)).to.deep.equal(comparable(slow.headers));
    expect(fast.headers).to.include({
      'content-type': 'image/jpeg',
      'content-length': String(jpeg.length),
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
    });
    expect(heldBytes()).to.equal(0);
  });

  it('streams a photo too large to read whole (over 1 MiB), intact', async () => {
    const width = 700;
    const height = 600; // noise does not compress: about 1.2 MB of PNG
    const noise = crypto.randomBytes(width * height * 3);
    const png = await sharp(noise, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    expect(png.length).to.be.above(1024 * 1024);
    const sent = await sendPhoto(t.api, alice, bob, png, {}, 'noise.png');
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
    const key: string = sent.body.message_key;
    const { res, byKoa } = await get(lane, `/v1/messages/${key}`);
    expect(byKoa).to.equal(false);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('image/png');
    const stored = fs.readFileSync(path.join(t.services.config.uploadDir, key.slice(0, 2), key));
    expect(res.headers['content-length']).to.equal(String(stored.length));
    expect(Buffer.compare(res.body, stored)).to.equal(0);
    expect(heldBytes()).to.equal(0);
  });

  it('logs and counts its downloads as the Koa route does, under the client’s request id', async () => {
    const key = await sentKey();
    const route = 'route="/v1/messages/:message_key",status="200"';
    const counted = async () => {
      const text = (await t.api.get('/metrics')).text;
      const line = text
        .split('\n')
        .find((l) => l.startsWith('pushpic_http_requests_total') && l.includes(route));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await counted();
    const { res, byKoa } = await get(lane, `/v1/messages/${key}`, {
      ...bob.headers,
      'X-Request-Id': 'lane-test-1',
    });
    expect(res.status).to.equal(200);
    expect(byKoa).to.equal(false);
    expect(res.headers['x-request-id']).to.equal('lane-test-1');
    expect(await counted()).to.equal(before + 1);
    const line = t.logs.lines.find((l) => l.req_id === 'lane-test-1' && l.event === 'http.request');
    expect(line).to.include({ method: 'GET', path: `/v1/messages/${key}`, status: 200 });
    // The key is in the path, as on the Koa route; the credentials are not in the line.
    expect(JSON.stringify(line)).not.to.include(bob.ukey);
  });

  it('hands every download that does not succeed to Koa, which answers it in JSON', async () => {
    const key = await sentKey();
    const cases: [string, string, Record<string, string>, number, string][] = [
      ['a wrong ukey', `/v1/messages/${key}`, { ...bob.headers, 'X-Ukey': 'wrong' }, 401, 'unauthorized'],
      ['the sender, not the receiver', `/v1/messages/${key}`, alice.headers, 404, 'message_not_found'],
      ['an unknown key', `/v1/messages/${'0'.repeat(64)}`, bob.headers, 404, 'message_not_found'],
      ['a key in capitals', `/v1/messages/${key.toUpperCase()}`, bob.headers, 404, 'message_not_found'],
      ['no credentials', `/v1/messages/${key}`, {}, 401, 'unauthorized'],
    ];
    for (const [what, url, headers, status, code] of cases) {
      const { res, byKoa } = await get(lane, url, headers);
      expect(res.status, what).to.equal(status);
      expect(res.body, what).to.include({ error: code });
      expect(byKoa, what).to.equal(true);
    }
    expect((await lane.delete(`/v1/messages/${key}`).set(bob.headers)).status).to.equal(204);
    const { res: gone, byKoa } = await get(lane, `/v1/messages/${key}`);
    expect(gone.status).to.equal(410);
    expect(gone.body).to.include({ error: 'gone' });
    expect(byKoa).to.equal(true);
    expect(heldBytes()).to.equal(0);
  });

  it("logs a vanished file under the download's request id, then answers 410 through Koa", async () => {
    const key = await sentKey();
    fs.rmSync((t.services.blobs as LocalBlobStore).pathFor(key)); // damage outside pushpic
    const { res, byKoa } = await get(lane, `/v1/messages/${key}`, {
      ...bob.headers,
      'X-Request-Id': 'lane-missing-1',
    });
    expect(res.status).to.equal(410);
    // Lost, not "deleted after it was downloaded": nobody downloaded it.
    expect(res.body).to.include({ error: 'photo_lost' });
    expect(res.body.message).not.to.match(/after it was downloaded/);
    expect(byKoa).to.equal(true);
    // The lane found the file missing and logged it; Koa then found the message lost.
    const missing = t.logs.lines.filter((l) => l.event === 'message.file_missing');
    expect(missing.map((l) => l.req_id)).to.deep.equal(['lane-missing-1']);
    const access = t.logs.lines.find((l) => l.req_id === 'lane-missing-1' && l.event === 'http.request');
    expect(access).to.include({ status: 410 });
  });

  it('leaves HEAD and requests with a body to Koa', async () => {
    const key = await sentKey();
    const before = laneServer.koaAnswered();
    const head = await lane.head(`/v1/messages/${key}`).set(bob.headers);
    expect(head.status).to.equal(200);
    expect(head.headers['content-length']).to.equal(String(jpeg.length));
    expect(laneServer.koaAnswered()).to.equal(before + 1);
    const withBody = await lane
      .get(`/v1/messages/${key}`)
      .set(bob.headers)
      .set('Content-Type', 'text/plain')
      .send('hello');
    expect(withBody.status).to.equal(200); // a GET's body means nothing: ignored
    expect(laneServer.koaAnswered()).to.equal(before + 2);
  });
});
