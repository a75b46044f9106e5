import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../src/config';
import { OWNER_MARKER } from '../../src/storage/blob-store';
import { buildUser, sendPhoto } from '../support/factories';
import { makeImage } from '../support/images';
import { startS3, type S3StandIn } from '../support/s3-standin';
import { startTestApp, type TestApp } from '../support/test-app';

/** What starting an app did: the ConfigError's one problem, or the app. */
async function startOrRefusal(env: Record<string, string>): Promise<TestApp | string> {
  try {
    return await startTestApp(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.problems).to.have.length(1);
    return err.problems[0];
  }
}

describe('a blob store belongs to one database', () => {
  let jpeg: Buffer;
  let first: TestApp;
  let uploads: string;
  before(async () => {
    jpeg = await makeImage('jpeg');
    first = await startTestApp();
    uploads = first.env.UPLOAD_DIR;
  });
  after(() => first.close());

  it('marks the store with its database at the first start', () => {
    const marker = JSON.parse(fs.readFileSync(path.join(uploads, OWNER_MARKER), 'utf8'));
    expect(marker.database_id).to.match(/^[0-9a-f]{32}$/);
  });

  it('refuses to start another database on a store that is marked, and its sweeper never runs', async () => {
    const [a, b] = [await buildUser(first.api), await buildUser(first.api)];
    const sent = await sendPhoto(first.api, a, b, jpeg);
    expect(sent.status).to.equal(201);
    // Another database (a fresh SQLite file, or schema) pointed at the same uploads folder.
    const other = await startOrRefusal({ UPLOAD_DIR: uploads, ORPHAN_GRACE: '0' });
    expect(other).to.be.a('string');
    expect(other).to.match(/^UPLOAD_DIR: .+ holds the photos of another pushpic database/);
    expect(other).to.include(uploads);
    // The photo is still there for its receiver.
    const download = await first.api.get(`/v1/messages/${sent.body.message_key}`).set(b.headers);
    expect(download.status).to.equal(200);
  });

  it('marks an unmarked store whose photos are its own, and refuses one whose photos are not', async () => {
    const [a, b] = [await buildUser(first.api), await buildUser(first.api)];
    expect((await sendPhoto(first.api, a, b, jpeg)).status).to.equal(201);
    // A store from before markers existed: the first database starts again and marks it.
    fs.rmSync(path.join(uploads, OWNER_MARKER));
    const again = await startTestApp({}, { sameStoreAs: first });
    await again.close();
    expect(fs.existsSync(path.join(uploads, OWNER_MARKER))).to.equal(true);

    // A copy of those photos without their marker, in front of a database that never stored them.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-store-copy-'));
    try {
      fs.cpSync(uploads, copy, { recursive: true });
      fs.rmSync(path.join(copy, OWNER_MARKER));
      const stranger = await startOrRefusal({ UPLOAD_DIR: copy, ORPHAN_GRACE: '0' });
      expect(stranger).to.match(/^UPLOAD_DIR: .+ holds photos this database has no record of/);
      expect(fs.readdirSync(copy).filter((f) => /^[0-9a-f]{2}$/.test(f))).not.to.be.empty;
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('answers a photo whose file went missing as lost, never as downloaded', async () => {
    const [a, b] = [await buildUser(first.api), await buildUser(first.api)];
    const sent = await sendPhoto(first.api, a, b, jpeg);
    const key: string = sent.body.message_key;
    fs.rmSync(path.join(uploads, key.slice(0, 2), key)); // damage outside pushpic
    for (let i = 0; i < 2; i++) {
      const res = await first.api.get(`/v1/messages/${key}`).set(b.headers);
      expect(res.status).to.equal(410);
      expect(res.body.error).to.equal('photo_lost');
      expect(res.body.message).not.to.match(/after it was downloaded/);
    }
    const listed = await first.api.get('/v1/messages').set(b.headers);
    expect(listed.body.messages.map((m: { message_key: string }) => m.message_key)).not.to.include(key);
  });
});

describe('an S3 bucket belongs to one database', () => {
  let s3: S3StandIn;
  before(async () => {
    s3 = await startS3();
  });
  after(() => s3.close());

  it('refuses a bucket it cannot use, in one line naming it', async () => {
    const refused = await startOrRefusal({ ...s3.env, S3_BUCKET: 'no-such-bucket' });
    expect(refused).to.match(/^S3_BUCKET and S3_PREFIX: cannot use no-such-bucket\/photos\/: /);
  });

  it('refuses a second database on the same bucket and prefix, and takes it on another prefix', async () => {
    const first = await startTestApp(s3.env);
    try {
      expect(await s3.objects()).to.include(`photos/${OWNER_MARKER}`);
      const refused = await startOrRefusal(s3.env);
      expect(refused).to.match(
        /^S3_BUCKET and S3_PREFIX: pushpic-test\/photos\/ holds the photos of another/,
      );
      const elsewhere = await startTestApp({ ...s3.env, S3_PREFIX: 'other/' });
      await elsewhere.close();
    } finally {
      await first.close();
    }
  });
});
