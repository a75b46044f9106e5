import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { createMedia } from '../../src/images/media';
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
