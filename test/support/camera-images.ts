import zlib from 'node:zlib';
import sharp from 'sharp';

/**
 * Photos as phones write them: EXIF with the camera's make, model and serial and a GPS position, an
 * orientation, an ICC profile (Display P3) and XMP. Made with sharp so that every format is a real one.
 */

export const CAMERA_MAKE = 'PushpicCam';
export const CAMERA_SERIAL = 'SN-4711-0815';
export const XMP_MARKER = 'pushpic-xmp-creator';

export type CameraFormat = 'jpeg' | 'png' | 'webp' | 'avif';

const cache = new Map<string, Buffer>();

/** Photo-like pixels: a gradient with structure, so that decoders and encoders have work to do. */
export function photoPixels(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = (x * 255) / width;
      px[i + 1] = (y * 255) / height;
      px[i + 2] = ((x ^ y) * 7) & 0xff;
    }
  return px;
}

export async function cameraPhoto(
  format: CameraFormat,
  options: { width?: number; height?: number; orientation?: number; quality?: number } = {},
): Promise<Buffer> {
  const { width = 96, height = 64, orientation = 6, quality = 90 } = options;
  const key = `${format}-${width}x${height}-${orientation}-${quality}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const made = await sharp(photoPixels(width, height), { raw: { width, height, channels: 3 } })
    .withMetadata({ orientation })
    .withExifMerge({
      IFD0: { Make: CAMERA_MAKE, Model: 'PP-1', Software: 'pushpic tests' },
      IFD2: { BodySerialNumber: CAMERA_SERIAL, DateTimeOriginal: '2026:11:21 10:00:00' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2928/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4020/100',
      },
    })
    .withIccProfile('p3')
    .withXmp(
      `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
        `<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="${XMP_MARKER}"/></rdf:RDF></x:xmpmeta>`,
    )
    .toFormat(format, { quality })
    .toBuffer();
  cache.set(key, made);
  return made;
}

/** A JPEG segment: marker, length, data. */
export function jpegSegment(marker: number, data: Buffer | string): Buffer {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/** Inserts segments right after a JPEG's SOI. */
export function withJpegSegments(jpeg: Buffer, ...segments: Buffer[]): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** A PNG chunk with its CRC. */
export function pngChunk(type: string, data: Buffer | string): Buffer {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Inserts chunks right after a PNG's IHDR. */
export function withPngChunks(png: Buffer, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/** Inserts GIF blocks (extensions) right before the first image descriptor. */
export function withGifBlocks(gif: Buffer, ...blocks: Buffer[]): Buffer {
  const packed = gif[10];
  let at = 13 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  // Skip extensions already there: introducer, label, sub-blocks.
  while (gif[at] === 0x21) {
    at += 2;
    while (gif[at] !== 0) at += gif[at] + 1;
    at += 1;
  }
  return Buffer.concat([gif.subarray(0, at), ...blocks, gif.subarray(at)]);
}

/** A GIF extension block: introducer, label, data cut into sub-blocks, terminator. */
export function gifExtension(label: number, ...subBlocks: (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x21, label])];
  for (const s of subBlocks) {
    const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1');
    for (let i = 0; i < b.length; i += 255) {
      const piece = b.subarray(i, i + 255);
      parts.push(Buffer.from([piece.length]), piece);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Decoded pixels exactly as stored (no rotation), with their layout. */
export async function pixelsOf(image: Buffer, options: { autoOrient?: boolean } = {}) {
  const { data, info } = await sharp(image, { autoOrient: options.autoOrient ?? false })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
