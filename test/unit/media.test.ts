import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { encode as encodeBlurhash } from 'blurhash';
import { blurhashProblem, createMedia } from '../../src/images/media';
import { makeImage } from '../support/images';
import { SVG } from '../support/hostile-images';

describe('media', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-media-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function saved(name: string, data: Buffer) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    return file;
  }

  it('leaves sharp no decoder but those of the accepted formats', async () => {
    createMedia(loadConfig({}).images);
    const tiff = await sharp(await makeImage('png'))
      .tiff()
      .toBuffer();
    for (const input of [saved('x.svg', SVG), tiff]) {
      const error = await sharp(input)
        .metadata()
        .catch((e: Error) => e);
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.match(/unsupported image format/);
    }
    expect((await sharp(await makeImage('gif')).metadata()).format).to.equal('gif');
  });

  it('decodes at most IMAGE_CONCURRENCY previews at once; the others wait', async () => {
    const media = createMedia(loadConfig({ IMAGE_CONCURRENCY: '1' }).images);
    const png = await makeImage('png', 64, 48);
    const received = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const file = path.join(dir, `${i}.png`);
        return { file, image: await media.receive([png.subarray(0, 100), png.subarray(100)], file) };
      }),
    );
    const runs = received.map((r) => media.examine(r.image, r.file));
    expect(media.load()).to.deep.equal({ active: 1, waiting: 2 });
    const results = await Promise.all(runs);
    expect(results.map((r) => [r.mime, r.width, r.height, typeof r.blurhash])).to.deep.equal([
      ['image/png', 64, 48, 'string'],
      ['image/png', 64, 48, 'string'],
      ['image/png', 64, 48, 'string'],
    ]);
    expect(media.load()).to.deep.equal({ active: 0, waiting: 0 });
  });

  it('takes a blurhash the app sent instead of decoding; PUSH_PREVIEW=client never decodes', async () => {
    const jpeg = await makeImage('jpeg', 320, 240);
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    // Structure intact, pixel data cut short: only a decode can tell.
    const cut = Buffer.concat([jpeg.subarray(0, sos + 400), Buffer.from([0xff, 0xd9])]);
    const hash = 'LEHV6nWB2yk8pyo0adR*.7kCMdnj';
    const examine = async (mode: string, sent: string | null) => {
      const media = createMedia(loadConfig({ PUSH_PREVIEW: mode }).images);
      const file = path.join(dir, `cut-${mode}-${sent === null}.jpg`);
      const received = await media.receive([cut], file);
      return media.examine(received, file, sent).then(
        (image) => image.blurhash,
        (e: { code: string }) => e.code,
      );
    };
    expect(await examine('on', null)).to.equal('invalid_image'); // decoded, and refused
    expect(await examine('on', hash)).to.equal(hash);
    expect(await examine('client', null)).to.equal(null);
    expect(await examine('client', hash)).to.equal(hash);
    expect(await examine('off', hash)).to.equal(null);
  });

  it('tells a blurhash from what is not one', () => {
    const pixels = new Uint8ClampedArray(8 * 8 * 4).fill(200);
    for (const [x, y] of [
      [1, 1],
      [4, 3],
      [9, 9],
    ])
      expect(blurhashProblem(encodeBlurhash(pixels, 8, 8, x, y)), `${x}×${y}`).to.equal(null);
    expect(blurhashProblem('')).to.match(/at least 6/);
    expect(blurhashProblem('LEHV6nWB2yk8pyo0adR*.7kCMdn')).to.match(/length/);
    expect(blurhashProblem('LEHV6nWB2yk8pyo0adR*.7kCMd j')).to.match(/alphabet/);
    expect(blurhashProblem('LEHV6nWB2yk8pyo0adR*.7kCMdné')).to.match(/alphabet/);
    expect(blurhashProblem(`~${'0'.repeat(23)}`)).to.match(/9 × 9/); // "~" = 82: 10 components down
    expect(blurhashProblem('0'.repeat(200))).to.match(/at most 166/);
  });

  it('reads a refused upload to its end and reports why, without throwing', async () => {
    const media = createMedia(loadConfig({ MAX_IMAGE_PIXELS: '100' }).images);
    const png = await makeImage('png', 64, 48);
    const chunks = [png.subarray(0, 40), png.subarray(40)];
    let consumed = 0;
    async function* upload() {
      for (const c of chunks) {
        consumed += 1;
        yield c;
      }
    }
    const file = path.join(dir, 'big.png');
    const received = await media.receive(upload(), file);
    expect(consumed).to.equal(2);
    expect(received.receivedBytes).to.equal(png.length);
    expect(received.problem?.code).to.equal('image_too_large');
    const error = await media.examine(received, file).catch((e: { code: string }) => e);
    expect(error).to.have.property('code', 'image_too_large');
  });
});
