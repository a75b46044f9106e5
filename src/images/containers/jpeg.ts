import { invalid, type ByteReader, type ByteSink } from '../byte-io';
import { EXIF_APP1_PREFIX, orientationOnlyExif, readOrientation } from '../exif';
import type { ContainerWalker } from './container';

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP0 = 0xe0;
const APP1 = 0xe1;
const APP2 = 0xe2;
const APP14 = 0xee;
const COM = 0xfe;

/** Start-of-frame markers of every coding process (not DHT C4, JPG C8, DAC CC). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
/** Tables and restart settings the decoder needs: DHT, DAC, DNL, DQT, DRI, DHP, EXP. */
const TABLES = new Set([0xc4, 0xcc, 0xdc, 0xdb, 0xdd, 0xde, 0xdf]);

function segment(marker: number, data: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([head, data]);
}

function startsWith(data: Buffer, prefix: string): boolean {
  return data.length >= prefix.length && data.toString('latin1', 0, prefix.length) === prefix;
}

/**
 * Which application segments survive: JFIF (without its thumbnail), the ICC profile (APP2, possibly in
 * several parts) and Adobe's APP14, which says how to convert the colours. EXIF, XMP, IPTC (APP13),
 * MPF, maker segments and comments do not.
 */
function keptApplicationSegment(marker: number, data: Buffer): Buffer | null {
  if (marker === APP0 && startsWith(data, 'JFIF\0') && data.length >= 14) {
    const jfif = Buffer.from(data.subarray(0, 14));
    jfif[12] = 0; // no embedded thumbnail: it could show what the photo looked like before cropping
    jfif[13] = 0;
    return segment(APP0, jfif);
  }
  if (marker === APP2 && startsWith(data, 'ICC_PROFILE\0')) return segment(marker, data);
  if (marker === APP14 && startsWith(data, 'Adobe')) return segment(marker, data);
  return null;
}

/** Copies entropy-coded data up to (not including) the next marker. */
async function copyScan(input: ByteReader, output: ByteSink): Promise<void> {
  for (;;) {
    const w = await input.window();
    if (w.length === 0) invalid('the JPEG is truncated: its image data has no end');
    let i = 0;
    for (;;) {
      const ff = w.indexOf(0xff, i);
      if (ff === -1) {
        await input.take(w.length, output);
        break;
      }
      if (ff + 1 === w.length) {
        await input.take(ff, output);
        if (!(await input.fill(2))) invalid('the JPEG is truncated: its image data has no end');
        break;
      }
      const next = w[ff + 1];
      // Stuffed 0xFF00, restart markers and fill bytes belong to the scan.
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
        i = ff + (next === 0xff ? 1 : 2);
        continue;
      }
      await input.take(ff, output);
      return;
    }
  }
}

export const walkJpeg: ContainerWalker = async (input, output, { checkDimensions }) => {
  const soi = await input.bytes(2, 'JPEG');
  if (soi[0] !== 0xff || soi[1] !== SOI) invalid('not a JPEG');
  await output.write(soi);

  let width = 0;
  let height = 0;
  let orientation = 1;
  let exifSeen = false;
  let scans = 0;
  for (;;) {
    if ((await input.u8('JPEG')) !== 0xff) invalid('the JPEG has bytes where a marker should be');
    let marker = await input.u8('JPEG');
    while (marker === 0xff) marker = await input.u8('JPEG'); // fill bytes before a marker
    if (marker === EOI) {
      if (scans === 0) invalid('the JPEG has no image data');
      // Anything after the end of the image (trailers, appended files) is not kept.
      await output.write(Buffer.from([0xff, EOI]));
      return { width, height, orientation };
    }
    if (marker === 0x01) continue; // TEM: no length, no meaning
    if (marker === SOI || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7))
      invalid('the JPEG has a marker out of place');

    const length = (await input.bytes(2, 'JPEG')).readUInt16BE(0);
    if (length < 2) invalid('the JPEG has a segment of impossible length');
    const data = await input.bytes(length - 2, 'JPEG');

    if (SOF.has(marker)) {
      if (width) invalid('the JPEG has more than one frame');
      const components = data.length >= 6 ? data[5] : 0;
      if (components < 1 || components > 4 || data.length !== 6 + 3 * components)
        invalid('the JPEG frame header is malformed');
      height = data.readUInt16BE(1);
      width = data.readUInt16BE(3);
      if (!width || !height) invalid('the JPEG frame has no size');
      checkDimensions(width, height);
      await output.write(segment(marker, data));
    } else if (TABLES.has(marker)) {
      await output.write(segment(marker, data));
    } else if (marker === SOS) {
      if (!width) invalid('the JPEG has image data before its frame header');
      await output.write(segment(marker, data));
      await copyScan(input, output);
      scans += 1;
    } else if (marker === APP1 && startsWith(data, 'Exif\0') && !exifSeen) {
      exifSeen = true;
      orientation = readOrientation(data.subarray(EXIF_APP1_PREFIX.length));
      if (orientation !== 1)
        await output.write(
          segment(APP1, Buffer.concat([EXIF_APP1_PREFIX, orientationOnlyExif(orientation)])),
        );
    } else if ((marker >= APP0 && marker <= 0xef) || marker === COM) {
      const kept = keptApplicationSegment(marker, data);
      if (kept) await output.write(kept);
    }
    // Other markers (JPG, JPGn extensions) are not used by baseline or progressive decoders: dropped.
  }
};
