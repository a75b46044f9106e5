import fs from 'node:fs';
import { encode as encodeBlurhash } from 'blurhash';
import sharp from 'sharp';
import type { Config } from '../config';
import { errors } from '../errors';
import { InvalidImageError } from './byte-io';
import { detectImageType, type ImageMime } from './detect-image-type';
import { swapsAxes } from './exif';
import { Semaphore } from './semaphore';
import { checkImageFile, stripMetadataFile, type ContainerInfo } from './strip-metadata';

/**
 * The one place that decides what an uploaded image is and what is kept of it, and the only user of sharp.
 * Order of work, cheapest first: type from the magic bytes; dimensions from the header (refused above
 * MAX_IMAGE_PIXELS before a pixel is read); a structural walk of the container that also writes it without
 * its metadata; and only then, for the preview, a decode shrunk on load to a few dozen pixels.
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

export interface ExaminedImage {
  mime: ImageMime;
  /** Width and height as displayed, after the orientation the file keeps. */
  width: number;
  height: number;
  /** Size of the file as it will be stored (after stripping). */
  size: number;
  /** A blurhash of the displayed image, or null when PUSH_PREVIEW is off. */
  blurhash: string | null;
}

export interface UploadedFile {
  path: string;
  size: number;
  /** The file's first bytes. */
  head: Buffer;
}

export type Media = ReturnType<typeof createMedia>;

export function createMedia(config: Config['images']) {
  configureSharp();
  const slots = new Semaphore(config.concurrency);

  const checkDimensions = (width: number, height: number) => {
    if (width * height > config.maxPixels) throw errors.imageTooLarge(config.maxPixels);
  };

  async function walk(mime: ImageMime, file: UploadedFile): Promise<ContainerInfo & { size: number }> {
    if (!config.stripMetadata) {
      return { ...(await checkImageFile(mime, file.path, { checkDimensions })), size: file.size };
    }
    const stripped = `${file.path}.strip`;
    const info = await stripMetadataFile(mime, file.path, stripped, { checkDimensions });
    try {
      await fs.promises.rename(stripped, file.path); // the upload's temporary file, now without metadata
    } catch (err) {
      await fs.promises.rm(stripped, { force: true });
      throw err;
    }
    return info;
  }

  async function blurhash(path: string): Promise<string> {
    let pixels: { data: Buffer; info: sharp.OutputInfo };
    try {
      // failOn 'warning' (sharp's advice for untrusted input): libjpeg reports a bad Huffman code as a warning.
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
    /** Images being examined now and waiting for a slot. */
    load: () => slots.load,

    /**
     * Decides whether an uploaded file is an image pushpic stores, and prepares it in place: when
     * STRIP_METADATA is on, the file at file.path is replaced by a copy without its metadata. Throws 415
     * unsupported_media_type, 422 image_too_large or 422 invalid_image.
     */
    async examine(file: UploadedFile): Promise<ExaminedImage> {
      const mime = detectImageType(file.head);
      if (!mime) throw errors.unsupportedMediaType();
      return slots.run(async () => {
        let info: ContainerInfo & { size: number };
        try {
          info = await walk(mime, file);
        } catch (err) {
          if (err instanceof InvalidImageError) throw errors.invalidImage(err.message);
          throw err;
        }
        const turned = swapsAxes(info.orientation);
        return {
          mime,
          width: turned ? info.height : info.width,
          height: turned ? info.width : info.height,
          size: info.size,
          blurhash: config.preview ? await blurhash(file.path) : null,
        };
      });
    },
  };
}
