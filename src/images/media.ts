import fs from 'node:fs';
import { encode as encodeBlurhash, isBlurhashValid } from 'blurhash';
import sharp from 'sharp';
import type { Config } from '../config';
import { errors, type AppError } from '../errors';
import { InvalidImageError, type Chunks } from './byte-io';
import type { ImageMime } from './detect-image-type';
import { swapsAxes } from './exif';
import { Semaphore } from './semaphore';
import { receiveImage, type ContainerInfo } from './strip-metadata';

/**
 * The one place that decides what an uploaded image is and what is kept of it, and the only user of sharp.
 * Order of work, cheapest first, the first three while the upload streams in (one pass, nothing read
 * twice): type from the magic bytes; dimensions from the header (refused above MAX_IMAGE_PIXELS before a
 * pixel is read); a structural walk of the container that writes it to disk without its metadata. Then,
 * once the upload is complete and only for the preview, a decode shrunk on load to a few dozen pixels, at
 * most IMAGE_CONCURRENCY at once; none when the sending app sent its own blurhash.
 */

/** The libvips loaders sharp may use: only those of the accepted formats (no SVG, PDF, TIFF, magick...). */
const LOADERS = ['Jpeg', 'Png', 'Webp', 'Nsgif', 'Heif'].flatMap((f) => [
  `VipsForeignLoad${f}File`,
  `VipsForeignLoad${f}Buffer`,
]);

/** Longest side of the image the blurhash is computed from: more pixels hardly change a 4×3 hash. */
const PREVIEW_SIDE = 32;

/** blurhash's base83 digits, in order. */
export const BASE83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
/** The longest blurhash there is: 9 × 9 components. */
export const MAX_BLURHASH_LENGTH = 4 + 2 * 9 * 9;

/**
 * Why a blurhash sent by an app is not one (null when it is): the alphabet, the component count its first
 * character gives (1 to 9 each way) and the length that count implies.
 */
export function blurhashProblem(hash: string): string | null {
  if (hash.length > MAX_BLURHASH_LENGTH) return `must be at most ${MAX_BLURHASH_LENGTH} characters`;
  if (![...hash].every((c) => BASE83.includes(c))) return 'must use the blurhash (base83) alphabet only';
  // The first digit is (y - 1) * 9 + (x - 1) for x × y components: at most 80.
  if (BASE83.indexOf(hash[0]) > 80) return 'has more than 9 × 9 components';
  const { result, errorReason } = isBlurhashValid(hash);
  return result ? null : (errorReason ?? 'is not a blurhash');
}

let sharpConfigured = false;

/** sharp's process-wide settings, applied once whatever the number of Media instances. */
function configureSharp(): void {
  if (sharpConfigured) return;
  sharpConfigured = true;
  // One libvips thread per image: IMAGE_CONCURRENCY decides how many images are decoded at once.
  sharp.concurrency(1);
  // Each upload is decoded once: an operation cache only holds memory.
  sharp.cache(false);
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: LOADERS });
}

/** What receiving an upload learned; the file it wrote is the one to store if the image is accepted. */
export interface ReceivedImage {
  mime: ImageMime | null;
  info: ContainerInfo | null;
  /** The 422 to answer, when the image was refused while it streamed in. */
  problem: AppError | null;
  /** Bytes the client sent, and bytes written (fewer when metadata was stripped). */
  receivedBytes: number;
  storedBytes: number;
}

export interface ExaminedImage {
  mime: ImageMime;
  /** Width and height as displayed, after the orientation the file keeps. */
  width: number;
  height: number;
  /** Size of the file as stored. */
  size: number;
  /**
   * A blurhash of the displayed image: the sending app's when it sent one, else decoded here; null when
   * PUSH_PREVIEW is off, or is client and the app sent none.
   */
  blurhash: string | null;
}

export type Media = ReturnType<typeof createMedia>;

export function createMedia(config: Config['images']) {
  configureSharp();
  const slots = new Semaphore(config.concurrency);

  const checkDimensions = (width: number, height: number) => {
    if (width * height > config.maxPixels) throw errors.imageTooLarge(config.maxPixels);
  };

  async function blurhash(path: string): Promise<string> {
    let pixels: { data: Buffer; info: sharp.OutputInfo };
    try {
      // failOn 'warning' (sharp's advice for untrusted input): libjpeg reports data cut short as a warning.
      pixels = await sharp(path, { failOn: 'warning', limitInputPixels: config.maxPixels, autoOrient: true })
        .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside' })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw errors.invalidImage(`it cannot be decoded (${(err as Error).message.split('\n')[0]})`);
    }
    const { width, height } = pixels.info;
    const rgba = new Uint8ClampedArray(pixels.data.buffer, pixels.data.byteOffset, pixels.data.length);
    return encodeBlurhash(rgba, width, height, width >= height ? 4 : 3, width >= height ? 3 : 4);
  }

  function preview(path: string, sentBlurhash: string | null): Promise<string | null> | string | null {
    if (config.preview === 'off') return null;
    if (sentBlurhash !== null) return sentBlurhash;
    return config.preview === 'on' ? slots.run(() => blurhash(path)) : null;
  }

  return {
    /** Previews being decoded now and waiting for a slot. */
    load: () => slots.load,

    /**
     * Writes an upload streaming in to a new file at path: without its metadata when STRIP_METADATA is on,
     * else as sent, checking it on the way. Never throws for what the image is (see examine); throws when
     * the stream fails (the client went away) or the file cannot be written.
     */
    async receive(chunks: Chunks, path: string): Promise<ReceivedImage> {
      const output = await fs.promises.open(path, 'wx');
      try {
        const r = await receiveImage(chunks, output, { strip: config.stripMetadata, checkDimensions });
        const problem =
          r.problem instanceof InvalidImageError ? errors.invalidImage(r.problem.message) : r.problem;
        return { ...r, problem };
      } finally {
        await output.close();
      }
    },

    /**
     * Decides on a received upload: 415 unsupported_media_type, 422 image_too_large or 422 invalid_image,
     * or the image's displayed size and its preview. The preview is the blurhash the sending app computed
     * (checked by blurhashProblem at the edge) when it sent one, as Signal and Matrix clients do: the app
     * has the photo decoded already, and a decode here costs several times the rest of a send. Without
     * one, PUSH_PREVIEW=on decodes the photo shrunk on load, which also refuses pixel data that does not
     * decode; with PUSH_PREVIEW=client or off, nothing is decoded.
     */
    async examine(
      received: ReceivedImage,
      path: string,
      sentBlurhash: string | null = null,
    ): Promise<ExaminedImage> {
      if (!received.mime) throw errors.unsupportedMediaType();
      if (received.problem) throw received.problem;
      if (!received.info) throw errors.invalidImage('its structure could not be read');
      const { width, height, orientation } = received.info;
      const turned = swapsAxes(orientation);
      return {
        mime: received.mime,
        width: turned ? height : width,
        height: turned ? width : height,
        size: received.storedBytes,
        blurhash: await preview(path, sentBlurhash),
      };
    },
  };
}
