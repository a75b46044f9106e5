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
