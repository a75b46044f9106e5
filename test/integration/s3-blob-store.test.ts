import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser, sendPhoto } from '../support/factories';
import { makeImage } from '../support/images';
import { startS3, type S3StandIn } from '../support/s3-standin';

describe('S3-compatible blob storage', () => {
  let s3: S3StandIn;
  let t: TestApp;
  let jpeg: Buffer;

  before(async () => {
    s3 = await startS3();
    t = await startTestApp({ ...s3.env, ORPHAN_GRACE: '0' });
    jpeg = await makeImage('jpeg', 200, 150);
  });
  after(async () => {
    await t.close();
    await s3.close();
  });

  it('carries a photo through the bucket: stored, downloaded byte for byte, deleted', async () => {
    const a = await buildUser(t.api);
    const b = await buildUser(t.api);
    const sent = await sendPhoto(t.api, a, b, jpeg);
    expect(sent.status).to.equal(201);
    const key: string = sent.body.message_key;
    expect(await s3.objects()).to.include(`photos/${key.slice(0, 2)}/${key}`);
    // Nothing stays on local disk but the (empty) temporary folder.
    expect(t.storedFiles()).to.deep.equal([]);

    const download = await t.api.get(`/v1/messages/${key}`).set(b.headers).buffer(true);
    expect(download.status).to.equal(200);
    expect(download.headers['content-length']).to.equal(String(jpeg.length));
    expect(Buffer.compare(download.body, jpeg)).to.equal(0);

    expect((await t.api.delete(`/v1/messages/${key}`).set(b.headers)).status).to.equal(204);
    expect(await s3.objects()).not.to.include(`photos/${key.slice(0, 2)}/${key}`);
    expect((await t.api.get(`/v1/messages/${key}`).set(b.headers)).status).to.equal(410);
  });

  it('leaves no object behind for a refused upload', async () => {
    const a = await buildUser(t.api);
    const before = await s3.objects();
    const res = await sendPhoto(t.api, a, { uid: 987654 }, jpeg);
    expect(res.status).to.equal(404);
    expect(await s3.objects()).to.deep.equal(before);
  });

  it('lets the sweeper find and remove objects without a live row', async () => {
    const a = await buildUser(t.api);
    const b = await buildUser(t.api);
    const kept = await sendPhoto(t.api, a, b, jpeg);
    const dropped = await sendPhoto(t.api, a, b, jpeg);
    await t.services.db('messages').where({ id: dropped.body.message_id }).update({ exist: false });
    const report = await t.services.sweeper.run();
    expect(report.orphanFiles).to.equal(1);
    const objects = await s3.objects();
    expect(objects.some((o) => o.endsWith(kept.body.message_key))).to.equal(true);
    expect(objects.some((o) => o.endsWith(dropped.body.message_key))).to.equal(false);
  });

  it('reports the bucket in /readyz', async () => {
    const res = await t.api.get('/readyz');
    expect(res.status).to.equal(200);
    expect(res.body.checks.blob_store).to.equal('ok');
  });
});
