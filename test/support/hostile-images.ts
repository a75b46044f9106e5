import zlib from 'node:zlib';
import { pngChunk } from './camera-images';

/**
 * Files made to hurt an image server: headers that promise billions of pixels, files cut short, files
 * that are two things at once, and documents dressed as images.
 */

/** A 100 000 × 100 000 PNG (10 gigapixels, 40 GB decoded) in a few hundred bytes. */
export function pngBomb(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  // A zlib stream of zeros: each scanline is filter byte 0 plus black pixels.
  const idat = zlib.deflateSync(Buffer.alloc(1 << 20), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose frame header claims 65 000 × 65 000 pixels, the largest a JPEG can state. */
export function jpegBomb(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9;) {
    const marker = out[i + 1];
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(65_000, i + 5);
      out.writeUInt16BE(65_000, i + 7);
      return out;
    }
    i += 2 + out.readUInt16BE(i + 2);
  }
  throw new Error('no frame header');
}

/** A GIF whose logical screen is 65 535 × 65 535 pixels. */
export function gifBomb(gif: Buffer): Buffer {
  const out = Buffer.from(gif);
  out.writeUInt16LE(0xffff, 6);
  out.writeUInt16LE(0xffff, 8);
  return out;
}

/**
 * The classic GIF/JavaScript polyglot: valid as a script (`GIF89a=...`) and starting like a GIF, so that
 * a server trusting the magic bytes would serve a script.
 */
export function gifScriptPolyglot(): Buffer {
  return Buffer.from('GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.domain)//;', 'latin1');
}

/** A valid PNG with a ZIP archive (and an HTML page) appended after its end. */
export function pngZipPolyglot(png: Buffer): Buffer {
  const zipHeader = Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00', 'latin1');
  return Buffer.concat([png, zipHeader, Buffer.from('<html><script>alert(1)</script></html>')]);
}

export const SVG = Buffer.from(
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">' +
    '<script>alert(1)</script><rect width="64" height="64" fill="red"/></svg>',
);

export const HTML_AS_PNG = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>');
