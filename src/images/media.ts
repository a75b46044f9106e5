import fs from 'node:fs';
import { encode as encodeBlurhash } from 'blurhash';
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
 * most IMAGE_CONCURRENCY at once.
 */

/** The libvips loaders sharp may use: only those of the accepted formats (no SVG, PDF, TIFF, magick...). */
const LOADERS = ['Jpeg', 'Png', 'Webp', 'Nsgif', 'Heif'].flatMap((f) => [
  `VipsForeignLoad${f}File`,
  `VipsForeignLoad${f}Buffer`,
]);

/** Longest side of the image the blurhash is computed from: more pixels do not change a 4×3 hash. */
const PREVIEW_SIDE = 32;

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
  /** A blurhash of the displayed image, or null when PUSH_PREVIEW is off. */
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
     * or the image's displayed size and, when PUSH_PREVIEW is on, its blurhash.
     */
    async examine(received: ReceivedImage, path: string): Promise<ExaminedImage> {
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
        blurhash: config.preview ? await slots.run(() => blurhash(path)) : null,
      };
    },
  };
}
