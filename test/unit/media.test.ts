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

  function upload(name: string, data: Buffer) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    return { path: file, size: data.length, head: data.subarray(0, 64) };
  }

  it('leaves sharp no decoder but those of the accepted formats', async () => {
    createMedia(loadConfig({}).images);
    const tiff = await sharp(await makeImage('png'))
      .tiff()
      .toBuffer();
    for (const input of [upload('x.svg', SVG).path, tiff]) {
      const error = await sharp(input)
        .metadata()
        .catch((e: Error) => e);
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.match(/unsupported image format/);
    }
    expect((await sharp(await makeImage('gif')).metadata()).format).to.equal('gif');
  });

  it('examines at most IMAGE_CONCURRENCY images at once; the others wait', async () => {
    const media = createMedia(loadConfig({ IMAGE_CONCURRENCY: '1' }).images);
    const png = await makeImage('png', 64, 48);
    const runs = [1, 2, 3].map((i) => media.examine(upload(`${i}.png`, png)));
    expect(media.load()).to.deep.equal({ active: 1, waiting: 2 });
    const results = await Promise.all(runs);
    expect(results.map((r) => [r.mime, r.width, r.height])).to.deep.equal([
      ['image/png', 64, 48],
      ['image/png', 64, 48],
      ['image/png', 64, 48],
    ]);
    expect(media.load()).to.deep.equal({ active: 0, waiting: 0 });
  });
});
