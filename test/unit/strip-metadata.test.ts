import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { AppError } from '../../src/errors';
import { InvalidImageError } from '../../src/images/byte-io';
import { detectImageType, type ImageMime } from '../../src/images/detect-image-type';
import { orientationOnlyExif, readOrientation } from '../../src/images/exif';
import { receiveImage, stripMetadataBuffer } from '../../src/images/strip-metadata';
import {
  CAMERA_MAKE,
  CAMERA_SERIAL,
  XMP_MARKER,
  cameraPhoto,
  gifExtension,
  jpegSegment,
  pixelsOf,
  pngChunk,
  withGifBlocks,
  withJpegSegments,
  withPngChunks,
  type CameraFormat,
} from '../support/camera-images';
import { gifBomb, gifScriptPolyglot, jpegBomb, pngBomb, pngZipPolyglot } from '../support/hostile-images';
import { makeImage } from '../support/images';

const anySize = { checkDimensions() {} };

async function strip(data: Buffer, blockSize?: number) {
  return stripMetadataBuffer(detectImageType(data) as ImageMime, data, anySize, blockSize);
}

async function expectInvalid(data: Buffer, reason: RegExp) {
  try {
    await strip(data);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidImageError);
    expect((err as Error).message).to.match(reason);
    return;
  }
  expect.fail(`accepted: ${reason}`);
}

/** Says where the camera's details could hide: plain bytes, or the zlib-compressed text of a PNG. */
function leaks(data: Buffer): string[] {
  return [CAMERA_MAKE, CAMERA_SERIAL, XMP_MARKER, 'GPS'].filter((s) => data.includes(s));
}

describe('stripMetadata', () => {
  describe('camera photos in every format', () => {
    for (const format of ['jpeg', 'png', 'webp', 'avif'] as CameraFormat[]) {
      it(`${format}: drops EXIF (GPS, serial) and XMP, keeps the pixels, the ICC profile and the orientation`, async () => {
        const original = await cameraPhoto(format, { orientation: 6 });
        const before = await sharp(original).metadata();
        // The test photo carries its metadata (PNG keeps its XMP compressed, so ask sharp).
        expect(leaks(original)).to.include(CAMERA_MAKE);
        expect(before.xmp?.toString()).to.include(XMP_MARKER);
        expect(before.icc).to.be.instanceOf(Buffer);

        const { info, data } = await strip(original);
        const after = await sharp(data).metadata();
        expect(leaks(data)).to.deep.equal([]);
        expect(after.icc?.equals(before.icc!), 'same ICC profile').to.equal(true);
        expect(after.xmp === undefined || after.xmp.toString().trim() === '').to.equal(true);
        expect((await pixelsOf(data)).data.equals((await pixelsOf(original)).data), 'same pixels').to.equal(
          true,
        );
        const turned = await pixelsOf(data, { autoOrient: true });
        expect([turned.width, turned.height], 'displayed upright').to.deep.equal([64, 96]);
        expect(turned.data.equals((await pixelsOf(original, { autoOrient: true })).data)).to.equal(true);
        if (format === 'avif') {
          // The size is kept; orientation is AVIF's irot property, untouched.
          expect(data.length).to.equal(original.length);
          expect(info).to.deep.equal({ width: 64, height: 96, orientation: 1 });
        } else {
          expect(after.orientation).to.equal(6);
          expect(after.exif!.length).to.be.below(40); // the orientation-only EXIF
          expect(info).to.deep.equal({ width: 96, height: 64, orientation: 6 });
        }
      });
    }

    it('writes no EXIF at all for an upright photo', async () => {
      for (const format of ['jpeg', 'png', 'webp'] as CameraFormat[]) {
        const { data } = await strip(await cameraPhoto(format, { orientation: 1 }));
        expect((await sharp(data).metadata()).exif, format).to.equal(undefined);
      }
    });

    it('gives the same bytes however the input is cut into reads', async () => {
      for (const format of ['jpeg', 'png', 'webp', 'avif'] as CameraFormat[]) {
        const original = await cameraPhoto(format);
        const whole = (await strip(original)).data;
        for (const block of [1, 7, 300])
          expect((await strip(original, block)).data.equals(whole), format).to.equal(true);
      }
    });

    it('leaves a file with nothing to remove byte-identical', async () => {
      for (const format of ['jpeg', 'png', 'webp', 'gif'] as const) {
        const plain = await makeImage(format);
        expect((await strip(plain)).data.equals(plain), format).to.equal(true);
      }
    });

    it('reports the header dimensions to checkDimensions before reading the pixels', async () => {
      const seen: number[][] = [];
      const refuse = {
        checkDimensions(w: number, h: number) {
          seen.push([w, h]);
          throw new Error('too large');
        },
      };
      for (const image of [pngBomb(), jpegBomb(await cameraPhoto('jpeg')), gifBomb(await makeImage('gif'))]) {
        const error = await stripMetadataBuffer(detectImageType(image)!, image, refuse).catch(
          (e: Error) => e,
        );
        expect((error as Error).message).to.equal('too large');
      }
      expect(seen).to.deep.equal([
        [100_000, 100_000],
        [65_000, 65_000],
        [65_535, 65_535],
      ]);
    });
  });

  it('answers damaged files of every format with InvalidImageError or a clean result, never another error', async () => {
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const formats = [
      ...(['jpeg', 'png', 'webp', 'avif'] as CameraFormat[]).map((f) => cameraPhoto(f)),
      makeImage('gif', 64, 48),
    ];
    for (const original of await Promise.all(formats)) {
      for (let round = 0; round < 300; round++) {
        const damaged = Buffer.from(original);
        // Damage the structure near the start, where the headers are, then anywhere.
        for (let k = 0; k < 1 + random(4); k++) {
          const at = 12 + random(round % 2 ? damaged.length - 12 : Math.min(400, damaged.length - 12));
          damaged[at] = random(256);
        }
        const cut = round % 5 === 0 ? damaged.subarray(0, 12 + random(damaged.length - 12)) : damaged;
        try {
          await strip(cut);
        } catch (err) {
          expect(
            err,
            `${detectImageType(original)} round ${round}: ${(err as Error).stack}`,
          ).to.be.instanceOf(InvalidImageError);
        }
      }
    }
  });

  describe('receiving an upload as it streams in', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-receive-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function receive(data: Buffer, strip: boolean, chunk = 1000) {
      const file = path.join(dir, `${Math.random()}`);
      const output = await fs.promises.open(file, 'wx');
      const pieces = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) =>
        data.subarray(i * chunk, (i + 1) * chunk),
      );
      try {
        return {
          ...(await receiveImage(pieces, output, { strip, ...anySize })),
          stored: fs.readFileSync(file),
        };
      } finally {
        await output.close();
      }
    }

    it('writes the stripped image, or the bytes as sent, whatever the chunks', async () => {
      for (const format of ['jpeg', 'png', 'webp', 'avif'] as CameraFormat[]) {
        const photo = await cameraPhoto(format);
        const expected = (await strip(photo)).data;
        const stripped = await receive(photo, true, 777);
        expect(stripped.stored.equals(expected), format).to.equal(true);
        expect(stripped).to.include({
          receivedBytes: photo.length,
          storedBytes: expected.length,
          problem: null,
        });
        const kept = await receive(photo, false);
        expect(kept.stored.equals(photo), format).to.equal(true);
        expect(kept.info).to.deep.equal(stripped.info);
      }
    });

    it('reads a refused or unknown upload to its end and says why', async () => {
      const jpeg = await cameraPhoto('jpeg');
      const truncated = await receive(jpeg.subarray(0, jpeg.length - 100), true, 100);
      expect(truncated.problem).to.be.instanceOf(InvalidImageError);
      expect(truncated.receivedBytes).to.equal(jpeg.length - 100);
      const output = await fs.promises.open(path.join(dir, 'big'), 'wx');
      const tooLarge = await receiveImage([jpeg], output, {
        strip: true,
        checkDimensions() {
          throw new AppError(422, 'image_too_large', 'too large');
        },
      }).finally(() => output.close());
      expect(tooLarge.problem).to.have.property('code', 'image_too_large');
      expect(tooLarge.receivedBytes).to.equal(jpeg.length);
      const text = await receive(Buffer.from('hello, this is not a photo'), true);
      expect(text).to.include({ mime: null, info: null, problem: null, receivedBytes: 26 });
    });
  });

  describe('JPEG', () => {
    it('drops comments, IPTC, XMP, MPF and data after the end; keeps JFIF without its thumbnail and Adobe', async () => {
      const base = await makeImage('jpeg', 64, 48);
      const jfif = Buffer.concat([
        Buffer.from('JFIF\0\x01\x02\x00\x00\x48\x00\x48\x02\x01', 'latin1'),
        Buffer.alloc(6, 0x99), // a 2×1 thumbnail
      ]);
      const adobe = Buffer.from('Adobe\0\x64\0\0\0\0\x01', 'latin1');
      const input = Buffer.concat([
        withJpegSegments(
          base,
          jpegSegment(0xe0, jfif),
          jpegSegment(0xfe, `taken by ${CAMERA_MAKE}`),
          jpegSegment(0xed, `Photoshop 3.0\0 8BIM ${CAMERA_SERIAL}`),
          jpegSegment(0xe1, `http://ns.adobe.com/xap/1.0/\0${XMP_MARKER}`),
          jpegSegment(0xe2, 'MPF\0II*\0'),
          jpegSegment(0xee, adobe),
        ),
        Buffer.from(`PK\x03\x04<html>${CAMERA_MAKE}</html>`, 'latin1'),
      ]);
      const { data } = await strip(input);
      expect(leaks(data)).to.deep.equal([]);
      const expectedJfif = Buffer.from(jfif.subarray(0, 14));
      expectedJfif[12] = expectedJfif[13] = 0;
      expect(
        data.equals(withJpegSegments(base, jpegSegment(0xe0, expectedJfif), jpegSegment(0xee, adobe))),
      ).to.equal(true);
      expect((await pixelsOf(data)).data.equals((await pixelsOf(base)).data)).to.equal(true);
    });

    it('copies a progressive JPEG with restart markers unchanged', async () => {
      const progressive = await sharp(await makeImage('png', 120, 80))
        .jpeg({ progressive: true, quality: 95 })
        .toBuffer();
      const withRestarts = Buffer.concat([
        progressive.subarray(0, 2),
        jpegSegment(0xdd, Buffer.from([0, 4])), // DRI: restart interval of 4 MCUs
        progressive.subarray(2),
      ]);
      for (const image of [progressive, withRestarts])
        expect((await strip(image, 5)).data.equals(image)).to.equal(true);
    });

    it('refuses a JPEG cut short, without a frame, or with a broken segment', async () => {
      const jpeg = await cameraPhoto('jpeg');
      for (const cut of [1, 2, 100, Math.floor(jpeg.length / 2), jpeg.length - 4])
        await expectInvalid(jpeg.subarray(0, jpeg.length - cut), /truncated/);
      await expectInvalid(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), /no image data/);
      await expectInvalid(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01]), /impossible length/);
      await expectInvalid(Buffer.from([0xff, 0xd8, 0xff, 0xfe, 0, 4, 0x61, 0x62, 0x12, 0x34]), /marker/);
      await expectInvalid(
        Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0, 0, 0xff, 0xd9]),
        /before its frame/,
      );
    });
  });

  describe('PNG', () => {
    it('drops tEXt, zTXt, iTXt, tIME and private chunks; keeps gAMA, pHYs and the image', async () => {
      const base = await makeImage('png', 64, 48);
      const kept = [pngChunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), pngChunk('pHYs', Buffer.alloc(9, 1))];
      const input = withPngChunks(
        base,
        pngChunk('tEXt', `Author\0${CAMERA_MAKE}`),
        kept[0],
        pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0'), Buffer.from(CAMERA_SERIAL)])),
        pngChunk('iTXt', `XML:com.adobe.xmp\0\0\0\0\0${XMP_MARKER}`),
        pngChunk('tIME', Buffer.from([7, 234, 11, 21, 10, 0, 0])),
        kept[1],
        pngChunk('prVt', CAMERA_SERIAL),
      );
      const { data } = await strip(input);
      expect(data.equals(withPngChunks(base, ...kept))).to.equal(true);
    });

    it('refuses a PNG cut short, with a bad CRC, without a header or with bytes after its end', async () => {
      const png = await cameraPhoto('png');
      for (const cut of [1, 12, Math.floor(png.length / 2), png.length - 9])
        await expectInvalid(png.subarray(0, png.length - cut), /truncated/);
      const corrupt = Buffer.from(png);
      corrupt[png.length - 20] ^= 0xff; // inside the last IDAT
      await expectInvalid(corrupt, /corrupt/);
      await expectInvalid(pngZipPolyglot(png), /after its end/);
      const noHeader = Buffer.concat([png.subarray(0, 8), pngChunk('IEND', Buffer.alloc(0))]);
      await expectInvalid(noHeader, /does not start with its header/);
    });
  });

  describe('WebP', () => {
    it('clears the XMP flag, sets the EXIF flag only when the orientation is kept, and fixes the RIFF size', async () => {
      for (const orientation of [1, 8]) {
        const original = await cameraPhoto('webp', { orientation });
        expect(original[20] & 0x0c).to.equal(0x0c); // EXIF and XMP flags
        const { data } = await strip(original);
        expect(data.readUInt32LE(4)).to.equal(data.length - 8);
        expect(data[20] & 0x0c).to.equal(orientation === 1 ? 0 : 0x08);
        expect(data[20] & 0x20).to.equal(0x20); // ICC
        expect((await sharp(data).metadata()).orientation).to.equal(
          orientation === 1 ? undefined : orientation,
        );
      }
    });

    it('refuses a WebP cut short or longer than its RIFF size says', async () => {
      const webp = await cameraPhoto('webp');
      for (const cut of [1, 100, webp.length - 13])
        await expectInvalid(webp.subarray(0, webp.length - cut), /truncated|larger than the file/);
      await expectInvalid(Buffer.concat([webp, Buffer.from('<html>')]), /after its end/);
    });
  });

  describe('GIF', () => {
    it('drops comments, plain text and XMP; keeps the loop count and the frames', async () => {
      const base = await makeImage('gif', 64, 48);
      const netscape = gifExtension(0xff, 'NETSCAPE2.0', Buffer.from([1, 0, 0]));
      const input = withGifBlocks(
        base,
        gifExtension(0xfe, `shot on ${CAMERA_MAKE}`),
        netscape,
        gifExtension(0xff, 'XMP DataXMP', `<x:xmpmeta>${XMP_MARKER}</x:xmpmeta>`),
        gifExtension(0x01, Buffer.alloc(12), CAMERA_SERIAL),
      );
      const { data } = await strip(input);
      expect(leaks(data)).to.deep.equal([]);
      expect(data.equals(withGifBlocks(base, netscape))).to.equal(true);
      expect((await pixelsOf(data)).data.equals((await pixelsOf(base)).data)).to.equal(true);
    });

    it('refuses a GIF cut short, a GIF/script polyglot, and bytes after the trailer', async () => {
      const gif = await makeImage('gif', 64, 48);
      for (const cut of [1, 10, gif.length - 14])
        await expectInvalid(gif.subarray(0, gif.length - cut), /truncated/);
      await expectInvalid(gifScriptPolyglot(), /truncated|block|frame|no image/);
      await expectInvalid(Buffer.concat([gif, Buffer.from('PK\x03\x04')]), /after its end/);
    });
  });

  describe('AVIF', () => {
    it('refuses an AVIF cut short', async () => {
      const avif = await cameraPhoto('avif');
      for (const cut of [1, 50, avif.length - 40])
        await expectInvalid(avif.subarray(0, avif.length - cut), /truncated|outside|larger/);
    });
  });
});

describe('EXIF orientation', () => {
  it('reads the orientation from IFD0 in either byte order', () => {
    for (let o = 1; o <= 8; o++) expect(readOrientation(orientationOnlyExif(o))).to.equal(o);
    const intel = Buffer.from('II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x03\0\0\0\0\0\0\0', 'latin1');
    expect(readOrientation(intel)).to.equal(3);
  });

  it('answers 1 for missing, malformed or out-of-range orientations', () => {
    const bad = orientationOnlyExif(6);
    bad.writeUInt16BE(9, 18);
    for (const tiff of [Buffer.alloc(0), Buffer.from('MM\0*\0\0\xff\xff', 'latin1'), bad, Buffer.alloc(26)])
      expect(readOrientation(tiff)).to.equal(1);
  });
});
