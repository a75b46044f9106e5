import { invalid } from '../byte-io';
import { orientationOnlyExif, readOrientation } from '../exif';
import type { ContainerWalker } from './container';

/** VP8X flags (WebP container specification). */
const FLAG_EXIF = 0x08;
const FLAG_XMP = 0x04;
const EXIF_READ_LIMIT = 64 * 1024;

/** Chunks that carry pixels, animation or colour. EXIF, XMP and unknown chunks are dropped. */
const KEPT = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);

function chunk(fourcc: string, data: Buffer): Buffer {
  const out = Buffer.alloc(8 + data.length + (data.length & 1));
  out.write(fourcc, 0, 'latin1');
  out.writeUInt32LE(data.length, 4);
  data.copy(out, 8);
  return out;
}

/** Canvas size of a lossy (VP8) or lossless (VP8L) bitstream, from its first bytes. */
function bitstreamSize(fourcc: string, data: Buffer): { width: number; height: number } {
  if (fourcc === 'VP8 ') {
    if (data.length < 10 || data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a)
      invalid('the WebP lossy header is malformed');
    return { width: data.readUInt16LE(6) & 0x3fff, height: data.readUInt16LE(8) & 0x3fff };
  }
  if (data.length < 5 || data[0] !== 0x2f) invalid('the WebP lossless header is malformed');
  const bits = data.readUInt32LE(1);
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
}

export const walkWebp: ContainerWalker = async (input, output, { checkDimensions }) => {
  const header = await input.bytes(12, 'WebP');
  if (header.toString('latin1', 0, 4) !== 'RIFF' || header.toString('latin1', 8, 12) !== 'WEBP')
    invalid('not a WebP');
  const riffEnd = 8 + header.readUInt32LE(4);
  await output.write(header); // its size is patched once the kept chunks are known

  let width = 0;
  let height = 0;
  let orientation = 1;
  let vp8xAt = -1;
  let vp8xFlags = 0;
  let exifKept = false;
  let sawImage = false;
  for (let index = 0; input.offset < riffEnd; index++) {
    const head = await input.bytes(8, 'WebP');
    const fourcc = head.toString('latin1', 0, 4);
    const length = head.readUInt32LE(4);
    const padded = length + (length & 1);
    if (input.offset + padded > riffEnd) invalid('the WebP has a chunk larger than the file');

    if (index === 0) {
      if (fourcc !== 'VP8X' && fourcc !== 'VP8 ' && fourcc !== 'VP8L')
        invalid('the WebP starts with no image header');
      const first = await input.bytes(Math.min(length, 10), 'WebP');
      if (fourcc === 'VP8X') {
        if (length !== 10) invalid('the WebP extended header is malformed');
        vp8xFlags = first[0];
        width = first.readUIntLE(4, 3) + 1;
        height = first.readUIntLE(7, 3) + 1;
      } else {
        ({ width, height } = bitstreamSize(fourcc, first));
        sawImage = true;
      }
      if (!width || !height) invalid('the WebP has no size');
      checkDimensions(width, height);
      if (fourcc === 'VP8X') vp8xAt = output.written;
      await output.write(head);
      await output.write(first);
      await input.forward(padded - first.length, output, undefined, 'WebP');
      continue;
    }

    if (fourcc === 'EXIF') {
      const data = await input.bytes(Math.min(length, EXIF_READ_LIMIT), 'WebP');
      await input.forward(padded - data.length, null, undefined, 'WebP');
      // Some writers put JPEG's "Exif\0\0" before the TIFF structure.
      orientation = readOrientation(data.toString('latin1', 0, 6) === 'Exif\0\0' ? data.subarray(6) : data);
      if (orientation !== 1) {
        await output.write(chunk('EXIF', orientationOnlyExif(orientation)));
        exifKept = true;
      }
      continue;
    }
    const keep = KEPT.has(fourcc) && fourcc !== 'VP8X' ? output : null;
    if (fourcc === 'VP8 ' || fourcc === 'VP8L' || fourcc === 'ANMF') sawImage = true;
    if (keep) await keep.write(head);
    await input.forward(padded, keep, undefined, 'WebP');
  }

  if (!sawImage) invalid('the WebP has no image data');
  if (!(await input.atEnd())) invalid('the WebP has bytes after its end');
  const riffSize = Buffer.alloc(4);
  riffSize.writeUInt32LE(output.written - 8);
  output.patch(4, riffSize);
  if (vp8xAt >= 0) {
    const flags = (vp8xFlags & ~(FLAG_EXIF | FLAG_XMP)) | (exifKept ? FLAG_EXIF : 0);
    output.patch(vp8xAt + 8, Buffer.from([flags]));
  }
  return { width, height, orientation };
};
