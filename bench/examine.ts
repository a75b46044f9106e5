/**
 * Image examination alone, in one process pinned like the server, one image at a time: from the photo's
 * bytes arriving to a stored, examined file. pushpic's media module (receive: check and strip while
 * writing; examine: the preview decode and blurhash) against sharp alone doing the same examination on the
 * same bytes written to disk (header read, a decode shrunk for the preview, the blurhash). Prints one
 * JSON line.
 *
 *   tsc -p tsconfig.bench.json && node dist/bench/examine.js <photo.jpg> <seconds> <rounds>
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encode } from 'blurhash';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { createMedia } from '../src/images/media';

const [photoPath, secondsArg, roundsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 2);
const rounds = Number(roundsArg ?? 1);
const MAX_PIXELS = 40_000_000;

type Examine = (photo: Buffer, file: string) => Promise<unknown>;

/** The photo as an upload delivers it: in 64 KB chunks. */
function* chunks(photo: Buffer) {
  for (let i = 0; i < photo.length; i += 65536) yield photo.subarray(i, i + 65536);
}

const media = (strip: boolean, preview: boolean) =>
  createMedia(
    loadConfig({
      STRIP_METADATA: String(strip),
      PUSH_PREVIEW: preview ? 'on' : 'off',
      IMAGE_CONCURRENCY: '1',
    }).images,
  );

function mediaExamine(strip: boolean, preview: boolean): Examine {
  const m = media(strip, preview);
  return async (photo, file) => m.examine(await m.receive(chunks(photo), file), file);
}

/** What sharp alone does to learn the same: type and size from the header, then the preview decode. */
const sharpAlone: Examine = async (photo, file) => {
  await pipeline(Readable.from(chunks(photo)), fs.createWriteStream(file, { flags: 'wx' }));
  const meta = await sharp(file).metadata();
  if (!meta.width || !meta.height || meta.width * meta.height > MAX_PIXELS) throw new Error('too large');
  const { data, info } = await sharp(file, {
    failOn: 'warning',
    limitInputPixels: MAX_PIXELS,
    autoOrient: true,
  })
    .resize(32, 32, { fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encode(
    new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    info.width,
    info.height,
    4,
    3,
  );
};

/** For scale: stripping by re-encoding, what the lossless rewrite avoids (and it changes the pixels). */
const sharpReencode: Examine = async (photo, file) => {
  await pipeline(Readable.from(chunks(photo)), fs.createWriteStream(`${file}.in`, { flags: 'wx' }));
  await sharp(`${file}.in`, { failOn: 'warning' }).jpeg({ quality: 85 }).toFile(file);
};

const variants: [string, Examine][] = [
  ['sharp alone (header + preview decode + blurhash)', sharpAlone],
  ['media: strip on, preview on (default)', mediaExamine(true, true)],
  ['media: strip off, preview on', mediaExamine(false, true)],
  ['media: strip on, preview off', mediaExamine(true, false)],
  ['media: strip off, preview off', mediaExamine(false, false)],
  ['sharp re-encode to strip (for scale)', sharpReencode],
];

async function measure(examine: Examine, dir: string, photo: Buffer): Promise<number[]> {
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until; i++) {
    // A new file each time, as for an upload (overwriting one makes ext4 flush it: auto_da_alloc).
    const file = path.join(dir, `p${i}.jpg`);
    const t0 = performance.now();
    await examine(photo, file);
    times.push(performance.now() - t0);
    await fs.promises.rm(file);
    await fs.promises.rm(`${file}.in`, { force: true });
  }
  return times;
}

async function main() {
  const photo = fs.readFileSync(photoPath);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-examine-'));
  const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  try {
    for (const [, examine] of variants) await measure(examine, dir, photo); // warm up
    for (let r = 0; r < rounds; r++)
      for (const [name, examine] of variants) {
        const times = await measure(examine, dir, photo);
        results.get(name)!.push(times.length / (times.reduce((a, b) => a + b, 0) / 1000));
      }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `${JSON.stringify(Object.fromEntries([...results].map(([name, rates]) => [name, rates])))}\n`,
  );
}

void main();
