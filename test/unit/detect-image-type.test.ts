import { expect } from 'chai';
import { detectImageType } from '../../src/images/detect-image-type';
import { makeImage } from '../support/images';

describe('detectImageType', () => {
  it('recognises JPEG, PNG, WebP and GIF from their bytes', async () => {
    expect(detectImageType(await makeImage('jpeg'))).to.equal('image/jpeg');
    expect(detectImageType(await makeImage('png'))).to.equal('image/png');
    expect(detectImageType(await makeImage('webp'))).to.equal('image/webp');
    expect(detectImageType(await makeImage('gif'))).to.equal('image/gif');
  });

  it('recognises AVIF by its ftyp brands, and refuses HEIC, which this build cannot decode', async () => {
    const sharp = (await import('sharp')).default;
    const avif = await sharp(await makeImage('png'))
      .avif()
      .toBuffer();
    expect(detectImageType(avif)).to.equal('image/avif');
    const mif1 = Buffer.from('\0\0\0\x1cftypmif1\0\0\0\0mif1miafavif', 'latin1');
    expect(detectImageType(mif1)).to.equal('image/avif');
    expect(detectImageType(Buffer.from('\0\0\0\x18ftypheic\0\0\0\0mif1heic', 'latin1'))).to.equal(null);
  });

  it('refuses text, SVG, HTML, an empty file and a RIFF that is not WebP', () => {
    for (const text of [
      'hello',
      '<svg xmlns="http://www.w3.org/2000/svg"/>',
      '<!doctype html>',
      '',
      'RIFF\0\0\0\0WAVEfmt ',
    ]) {
      expect(detectImageType(Buffer.from(text)), text).to.equal(null);
    }
  });
});
