import zlib from 'node:zlib';
import { invalid } from '../byte-io';
import { orientationOnlyExif, readOrientation } from '../exif';
import type { ContainerWalker } from './container';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_CHUNK = 0x7fffffff;
/** An eXIf chunk is read up to this size for its orientation; the rest of it is skipped unread. */
const EXIF_READ_LIMIT = 64 * 1024;

/**
 * Chunks that decide how the pixels look (critical, transparency, colour space, HDR, APNG animation,
 * physical size). Everything else, tEXt, zTXt, iTXt, eXIf, tIME and private chunks included, is dropped.
 */
const KEPT = new Set([
  'IHDR',
  'PLTE',
  'IDAT',
  'IEND',
  'tRNS',
  'cHRM',
  'gAMA',
  'iCCP',
  'sBIT',
  'sRGB',
  'cICP',
  'mDCV',
  'cLLI',
  'bKGD',
  'hIST',
  'pHYs',
  'sPLT',
  'acTL',
  'fcTL',
  'fdAT',
]);

/** Bit depths allowed for each colour type (PNG specification, table 11.1). */
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export const walkPng: ContainerWalker = async (input, output, { checkDimensions }) => {
  const signature = await input.bytes(8, 'PNG');
  if (!signature.equals(SIGNATURE)) invalid('not a PNG');
  await output.write(signature);

  let width = 0;
  let height = 0;
  let orientation = 1;
  let sawIdat = false;
  let sawPlte = false;
  let colourType = -1;
  for (let index = 0; ; index++) {
    const head = await input.bytes(8, 'PNG');
    const length = head.readUInt32BE(0);
    const type = head.toString('latin1', 4, 8);
    if (length > MAX_CHUNK || !/^[A-Za-z]{4}$/.test(type)) invalid('the PNG has a malformed chunk');
    if (index === 0 && type !== 'IHDR') invalid('the PNG does not start with its header');

    if (type === 'IHDR' || type === 'eXIf' || type === 'IEND') {
      if (type === 'IHDR' && (index !== 0 || length !== 13)) invalid('the PNG header is malformed');
      const data = await input.bytes(Math.min(length, EXIF_READ_LIMIT), 'PNG');
      let crc = zlib.crc32(data, zlib.crc32(head.subarray(4)));
      if (length > data.length)
        await input.forward(length - data.length, null, (b) => (crc = zlib.crc32(b, crc)));
      if ((await input.bytes(4, 'PNG')).readUInt32BE(0) !== crc >>> 0)
        invalid(`the PNG ${type} chunk is corrupt`);

      if (type === 'IHDR') {
        width = data.readUInt32BE(0);
        height = data.readUInt32BE(4);
        colourType = data[9];
        if (!width || !height || width > MAX_CHUNK || height > MAX_CHUNK) invalid('the PNG has no size');
        if (!DEPTHS[colourType]?.includes(data[8]) || data[10] !== 0 || data[11] !== 0 || data[12] > 1)
          invalid('the PNG header is malformed');
        checkDimensions(width, height);
        await output.write(chunk('IHDR', data));
      } else if (type === 'eXIf') {
        orientation = readOrientation(data);
        if (orientation !== 1) await output.write(chunk('eXIf', orientationOnlyExif(orientation)));
      } else {
        if (length !== 0) invalid('the PNG end chunk is malformed');
        if (!sawIdat) invalid('the PNG has no image data');
        if (colourType === 3 && !sawPlte) invalid('the PNG has no palette');
        if (!(await input.atEnd())) invalid('the PNG has bytes after its end');
        await output.write(chunk('IEND', Buffer.alloc(0)));
        return { width, height, orientation };
      }
      continue;
    }

    // Stream the chunk through (or past), checking its CRC on the way: IDAT chunks can be large.
    const keep = KEPT.has(type) ? output : null;
    if (keep) await keep.write(head);
    let crc = zlib.crc32(head.subarray(4));
    await input.forward(length, keep, (b) => (crc = zlib.crc32(b, crc)), 'PNG');
    const stored = await input.bytes(4, 'PNG');
    if (stored.readUInt32BE(0) !== crc >>> 0) invalid(`the PNG ${type} chunk is corrupt`);
    if (keep) await keep.write(stored);
    if (type === 'IDAT') sawIdat = true;
    if (type === 'PLTE') sawPlte = true;
  }
};
