import path from 'node:path';
import { expect } from 'chai';
import { encode as encodeBlurhash, isBlurhashValid } from 'blurhash';
import sharp from 'sharp';
import type { MockPushProvider } from '../../src/push/mock-push-provider';
import { TEST_DATABASE_URL, startTestApp, type TestApp } from '../support/test-app';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import { CAMERA_MAKE, CAMERA_SERIAL, XMP_MARKER, cameraPhoto, pixelsOf } from '../support/camera-images';
import {
  HTML_AS_PNG,
  SVG,
  gifBomb,
  gifScriptPolyglot,
  jpegBomb,
  pngBomb,
  pngZipPolyglot,
} from '../support/hostile-images';

/** GeTui refuses a transmission payload longer than this many characters. */
const GETUI_TRANSMISSION_LIMIT = 3072;

interface Sent {
  status: number;
  body: Record<string, unknown> & { message_key: string; message_id: number };
}

function setup(env: Record<string, string> = {}) {
  const ctx = {} as { t: TestApp; alice: TestUser; bob: TestUser };
  before(async () => {
    ctx.t = await startTestApp(env);
    ctx.alice = await buildUser(ctx.t.api, { nickname: 'Alice' });
    ctx.bob = await buildUser(ctx.t.api, { nickname: 'Bob' });
  });
  after(() => ctx.t.close());
  return ctx;
}

async function download(t: TestApp, who: TestUser, key: string): Promise<Buffer> {
  const res = await t.api.get(`/v1/messages/${key}`).set(who.headers).buffer(true);
  expect(res.status).to.equal(200);
  return res.body as Buffer;
}

/** Stored files (temporary ones included) match the stored messages exactly: no orphan either way. */
async function expectStorageConsistent(t: TestApp) {
  const live = await t.services.db('messages').where({ exist: true }).pluck('message_key');
  expect(t.storedFiles().sort()).to.deep.equal(live.map((k: string) => path.join(k.slice(0, 2), k)).sort());
}

describe('images: safe, private and previewed', () => {
  describe('with the defaults (STRIP_METADATA=true, PUSH_PREVIEW=on)', () => {
    const ctx = setup();
    /** The push the outbox sent for a message (its worker runs first). */
    const pushFor = async (id: number) => {
      await ctx.t.drainPushes();
      return (ctx.t.services.pushProvider as MockPushProvider).sent.find((p) => p.payload.message_id === id)!;
    };

    it('stores a camera JPEG without its GPS, serial and XMP, with the same pixels and colour profile', async () => {
      const { t, alice, bob } = ctx;
      const photo = await cameraPhoto('jpeg', { width: 96, height: 64, orientation: 1 });
      const sent = (await sendPhoto(t.api, alice, bob, photo)) as Sent;
      expect(sent.status, JSON.stringify(sent.body)).to.equal(201);

      const stored = await download(t, bob, sent.body.message_key);
      for (const secret of [CAMERA_MAKE, CAMERA_SERIAL, XMP_MARKER, 'GPS'])
        expect(stored.includes(secret)).to.equal(false);
      const meta = await sharp(stored).metadata();
      expect(meta.exif).to.equal(undefined);
      expect(meta.xmp).to.equal(undefined);
      expect(meta.icc?.equals((await sharp(photo).metadata()).icc!)).to.equal(true);
      expect((await pixelsOf(stored)).data.equals((await pixelsOf(photo)).data)).to.equal(true);
      expect(sent.body.size).to.equal(stored.length).and.be.below(photo.length);
      await expectStorageConsistent(t);
    });

    it('keeps the orientation: the stored photo displays upright and the payload gives its displayed size', async () => {
      const { t, alice, bob } = ctx;
      const photo = await cameraPhoto('jpeg', { width: 96, height: 64, orientation: 6 });
      const sent = (await sendPhoto(t.api, alice, bob, photo)) as Sent;
      expect(sent.status).to.equal(201);
      expect([sent.body.width, sent.body.height]).to.deep.equal([64, 96]);

      const stored = await download(t, bob, sent.body.message_key);
      expect((await sharp(stored).metadata()).orientation).to.equal(6);
      const upright = await pixelsOf(stored, { autoOrient: true });
      expect([upright.width, upright.height]).to.deep.equal([64, 96]);
      expect(upright.data.equals((await pixelsOf(photo, { autoOrient: true })).data)).to.equal(true);

      const push = await pushFor(sent.body.message_id);
      expect(push.payload).to.include({ width: 64, height: 96 });
      const list = await t.api.get('/v1/messages').set(bob.headers);
      const listed = list.body.messages.find(
        (m: { message_id: number }) => m.message_id === sent.body.message_id,
      );
      expect(listed).to.deep.equal(push.payload);
    });

    it('strips PNG, WebP and AVIF too, and records their type and size', async () => {
      const { t, alice, bob } = ctx;
      for (const format of ['png', 'webp', 'avif'] as const) {
        const photo = await cameraPhoto(format, { width: 96, height: 64, orientation: 1 });
        const sent = (await sendPhoto(t.api, alice, bob, photo, {}, 'photo.jpg')) as Sent;
        expect(sent.status, format).to.equal(201);
        expect(sent.body).to.include({ filetype: `image/${format}`, width: 96, height: 64 });
        const stored = await download(t, bob, sent.body.message_key);
        for (const secret of [CAMERA_MAKE, CAMERA_SERIAL, XMP_MARKER])
          expect(stored.includes(secret), format).to.equal(false);
        expect((await pixelsOf(stored)).data.equals((await pixelsOf(photo)).data), format).to.equal(true);
      }
    });

    it('pushes a blurhash of the displayed photo, listed too, and the payload fits GeTui', async () => {
      const { t, alice, bob } = ctx;
      const sent = (await sendPhoto(
        t.api,
        alice,
        bob,
        await cameraPhoto('jpeg', { orientation: 6 }),
      )) as Sent;
      const { payload } = await pushFor(sent.body.message_id);
      expect(payload.blurhash).to.be.a('string');
      expect(isBlurhashValid(payload.blurhash!).result).to.equal(true);
      // Portrait as displayed: 3 components across, 4 down; the first character encodes
      // (3 - 1) + (4 - 1) * 9 = 29, which is "T" in base 83.
      expect(payload.blurhash![0]).to.equal('T');
      expect(JSON.stringify(payload).length).to.be.below(GETUI_TRANSMISSION_LIMIT / 4);
    });

    it('pushes and lists the blurhash the sending app computed, as sent', async () => {
      const { t, alice, bob } = ctx;
      const photo = await cameraPhoto('jpeg', { orientation: 1 });
      const { data, info } = await sharp(photo)
        .resize(16, 16, { fit: 'inside' })
        .ensureAlpha()
        .raw()
        .toBuffer({
          resolveWithObject: true,
        });
      const appsHash = encodeBlurhash(new Uint8ClampedArray(data), info.width, info.height, 5, 4);
      const sent = (await sendPhoto(t.api, alice, bob, photo, { blurhash: appsHash })) as Sent;
      expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
      const { payload } = await pushFor(sent.body.message_id);
      expect(payload.blurhash).to.equal(appsHash);
      const list = await t.api.get('/v1/messages').set(bob.headers);
      const listed = list.body.messages.find(
        (m: { message_id: number }) => m.message_id === sent.body.message_id,
      );
      expect(listed.blurhash).to.equal(appsHash);
    });

    it('takes the longest blurhash there is (9 × 9 components, 166 characters) on every database', async () => {
      const { t, alice, bob } = ctx;
      const photo = await makeImage('jpeg', 32, 24);
      const pixels = new Uint8ClampedArray(16 * 16 * 4).map((_, i) => (i * 37) & 0xff);
      const longest = encodeBlurhash(pixels, 16, 16, 9, 9);
      expect(longest).to.have.length(166);
      const sent = (await sendPhoto(t.api, alice, bob, photo, { blurhash: longest })) as Sent;
      expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
      const list = await t.api.get('/v1/messages').set(bob.headers);
      const listed = list.body.messages.find(
        (m: { message_id: number }) => m.message_id === sent.body.message_id,
      );
      expect(listed.blurhash).to.equal(longest);
    });

    it('undoes the wider blurhash column, dropping the previews that no longer fit, and redoes it', async () => {
      const { t, alice, bob } = ctx;
      const photo = await makeImage('jpeg', 32, 24);
      const pixels = new Uint8ClampedArray(16 * 16 * 4).map((_, i) => (i * 53) & 0xff);
      const longest = encodeBlurhash(pixels, 16, 16, 9, 9);
      const short = encodeBlurhash(pixels, 16, 16, 4, 3);
      const sent = await Promise.all(
        [longest, short].map(
          async (blurhash) => (await sendPhoto(t.api, alice, bob, photo, { blurhash })).body,
        ),
      );
      const { db } = t.services;
      const name = '20261201000200_widen_messages_blurhash';
      expect((await db.migrate.down({ name }))[1]).to.deep.equal([name]);
      const stored = (id: number) => db('messages').where({ id }).first('blurhash');
      expect(await stored(sent[0].message_id)).to.deep.equal({
        blurhash: TEST_DATABASE_URL ? null : longest,
      });
      expect(await stored(sent[1].message_id)).to.deep.equal({ blurhash: short });
      expect((await db.migrate.up({ name }))[1]).to.deep.equal([name]);
      const again = await sendPhoto(t.api, alice, bob, photo, { blurhash: longest });
      expect(again.status).to.equal(201);
    });

    it('refuses a blurhash field that is not one, storing nothing', async () => {
      const { t, alice, bob } = ctx;
      const photo = await makeImage('jpeg', 32, 24);
      const before = await t.services.db('messages').count({ n: '*' });
      for (const bad of ['LEHV6nWB2yk8pyo0adR*.7kCMdn', 'LEHV6nWB2yk8pyo0adR*.7kCMd"j', '<script>', '']) {
        const res = await sendPhoto(t.api, alice, bob, photo, { blurhash: bad });
        expect(res.status, bad).to.equal(422);
        expect(res.body.error).to.equal('invalid_request');
        expect(res.body.message).to.match(/^blurhash: /);
      }
      expect(await t.services.db('messages').count({ n: '*' })).to.deep.equal(before);
      await expectStorageConsistent(t);
    });

    it('stores a JPEG with data appended after its end without that data', async () => {
      const { t, alice, bob } = ctx;
      const photo = await makeImage('jpeg', 64, 48);
      const sent = (await sendPhoto(
        t.api,
        alice,
        bob,
        Buffer.concat([photo, Buffer.from('PK\x03\x04<html><script>alert(1)</script></html>')]),
      )) as Sent;
      expect(sent.status).to.equal(201);
      expect((await download(t, bob, sent.body.message_key)).equals(photo)).to.equal(true);
    });

    describe('hostile files are refused and leave nothing behind', () => {
      const cases: [string, () => Promise<Buffer>, number, string][] = [
        ['a PNG decompression bomb (100 000 × 100 000)', async () => pngBomb(), 422, 'image_too_large'],
        [
          'a JPEG claiming 65 000 × 65 000',
          async () => jpegBomb(await cameraPhoto('jpeg')),
          422,
          'image_too_large',
        ],
        [
          'a GIF claiming 65 535 × 65 535',
          async () => gifBomb(await makeImage('gif')),
          422,
          'image_too_large',
        ],
        [
          'a truncated JPEG',
          async () => (await cameraPhoto('jpeg', { width: 320, height: 240 })).subarray(0, 3000),
          422,
          'invalid_image',
        ],
        [
          'a truncated PNG',
          async () => (await cameraPhoto('png', { width: 320, height: 240 })).subarray(0, 2000),
          422,
          'invalid_image',
        ],
        ['a GIF/JavaScript polyglot', async () => gifScriptPolyglot(), 422, 'invalid_image'],
        [
          'a PNG with a ZIP appended',
          async () => pngZipPolyglot(await makeImage('png')),
          422,
          'invalid_image',
        ],
        ['an SVG', async () => SVG, 415, 'unsupported_media_type'],
        ['an HTML page named .png', async () => HTML_AS_PNG, 415, 'unsupported_media_type'],
        ['zero bytes', async () => Buffer.alloc(0), 415, 'unsupported_media_type'],
        [
          'a HEIC (not decodable here)',
          async () => Buffer.from('\0\0\0\x18ftypheic\0\0\0\0mif1heic', 'latin1'),
          415,
          'unsupported_media_type',
        ],
      ];
      for (const [name, make, status, error] of cases) {
        it(`${name}: ${status} ${error}`, async () => {
          const { t, alice, bob } = ctx;
          const before = await t.services.db('messages').count({ n: '*' });
          const res = await sendPhoto(t.api, alice, bob, await make(), {}, 'photo.png');
          expect(res.status, JSON.stringify(res.body)).to.equal(status);
          expect(res.body.error).to.equal(error);
          expect(res.body.message).to.be.a('string');
          expect(await t.services.db('messages').count({ n: '*' })).to.deep.equal(before);
          await expectStorageConsistent(t);
        });
      }

      it('refuses pixel data that does not decode, structure intact (caught by the preview decode)', async () => {
        const { t, alice, bob } = ctx;
        const jpeg = await makeImage('jpeg', 320, 240);
        const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
        // Cut short, with its end marker put back so that the structure looks complete.
        const cut = Buffer.concat([jpeg.subarray(0, sos + 400), Buffer.from([0xff, 0xd9])]);
        const res = await sendPhoto(t.api, alice, bob, cut);
        expect(res.status, JSON.stringify(res.body)).to.equal(422);
        expect(res.body.error).to.equal('invalid_image');
        await expectStorageConsistent(t);
      });
    });
  });

  describe('with a smaller MAX_IMAGE_PIXELS', () => {
    const ctx = setup({ MAX_IMAGE_PIXELS: String(100 * 100) });

    it('refuses an ordinary photo over the limit and takes one under it', async () => {
      const { t, alice, bob } = ctx;
      const big = await sendPhoto(t.api, alice, bob, await makeImage('webp', 101, 100));
      expect(big.status).to.equal(422);
      expect(big.body.error).to.equal('image_too_large');
      const fits = await sendPhoto(t.api, alice, bob, await makeImage('webp', 100, 100));
      expect(fits.status).to.equal(201);
      await expectStorageConsistent(t);
    });
  });

  describe('with PUSH_PREVIEW=client', () => {
    const ctx = setup({ PUSH_PREVIEW: 'client' });

    it('pushes the blurhash the app sent, and none when it sent none', async () => {
      const { t, alice, bob } = ctx;
      const photo = await makeImage('jpeg', 32, 24);
      const hash = 'LEHV6nWB2yk8pyo0adR*.7kCMdnj';
      const withHash = (await sendPhoto(t.api, alice, bob, photo, { blurhash: hash })) as Sent;
      const without = (await sendPhoto(t.api, alice, bob, photo)) as Sent;
      expect([withHash.status, without.status]).to.deep.equal([201, 201]);
      await t.drainPushes();
      const sent = (t.services.pushProvider as MockPushProvider).sent;
      const blurhashOf = (id: number) => sent.find((p) => p.payload.message_id === id)?.payload.blurhash;
      expect(blurhashOf(withHash.body.message_id)).to.equal(hash);
      expect(blurhashOf(without.body.message_id)).to.equal(null);
    });
  });

  describe('with STRIP_METADATA=false and PUSH_PREVIEW=off', () => {
    const ctx = setup({ STRIP_METADATA: 'false', PUSH_PREVIEW: 'off' });

    it('stores the bytes as sent, still checked, and pushes no preview', async () => {
      const { t, alice, bob } = ctx;
      const photo = await cameraPhoto('jpeg', { orientation: 6 });
      const sent = (await sendPhoto(t.api, alice, bob, photo)) as Sent;
      expect(sent.status).to.equal(201);
      expect(sent.body).to.include({ width: 64, height: 96, size: photo.length });
      expect((await download(t, bob, sent.body.message_key)).equals(photo)).to.equal(true);
      await t.drainPushes();
      const push = (t.services.pushProvider as MockPushProvider).sent.at(-1)!;
      expect(push.payload.message_id).to.equal(sent.body.message_id);
      expect(push.payload.blurhash).to.equal(null);
      // A blurhash the app sends is checked, then left out too.
      const hashed = (await sendPhoto(t.api, alice, bob, photo, {
        blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj',
      })) as Sent;
      expect(hashed.status).to.equal(201);
      await t.drainPushes();
      expect((t.services.pushProvider as MockPushProvider).sent.at(-1)!.payload.blurhash).to.equal(null);

      const truncated = await sendPhoto(t.api, alice, bob, photo.subarray(0, photo.length - 10));
      expect(truncated.status).to.equal(422);
      await expectStorageConsistent(t);
    });
  });
});
