import fs from 'node:fs';
import { ByteReader, FileSink, NullSink, bufferSource, fileSource, MemorySink } from './byte-io';
import { walkAvif } from './containers/avif';
import type { ContainerInfo, ContainerWalker, WalkOptions } from './containers/container';
import { walkGif } from './containers/gif';
import { walkJpeg } from './containers/jpeg';
import { walkPng } from './containers/png';
import { walkWebp } from './containers/webp';
import type { ImageMime } from './detect-image-type';

export type { ContainerInfo, WalkOptions };

const WALKERS: Record<ImageMime, ContainerWalker> = {
  'image/jpeg': walkJpeg,
  'image/png': walkPng,
  'image/webp': walkWebp,
  'image/gif': walkGif,
  'image/avif': walkAvif,
};

/**
 * Writes src to dst without its metadata, losslessly, in one pass with bounded memory. Throws
 * InvalidImageError for a broken file (dst is then removed) and whatever checkDimensions throws.
 */
export async function stripMetadataFile(
  mime: ImageMime,
  src: string,
  dst: string,
  options: WalkOptions,
): Promise<ContainerInfo & { size: number }> {
  const input = await fs.promises.open(src, 'r');
  let output: fs.promises.FileHandle | undefined;
  try {
    output = await fs.promises.open(dst, 'wx');
    const sink = new FileSink(output);
    const info = await WALKERS[mime](new ByteReader(fileSource(input)), sink, options);
    await sink.finish();
    await output.close();
    output = undefined;
    return { ...info, size: sink.written };
  } catch (err) {
    if (output) {
      await output.close();
      await fs.promises.rm(dst, { force: true });
    }
    throw err;
  } finally {
    await input.close();
  }
}

/** Checks a file's structure and reads its header without writing anything. */
export async function checkImageFile(
  mime: ImageMime,
  src: string,
  options: WalkOptions,
): Promise<ContainerInfo> {
  const input = await fs.promises.open(src, 'r');
  try {
    return await WALKERS[mime](new ByteReader(fileSource(input)), new NullSink(), options);
  } finally {
    await input.close();
  }
}

/** The same rewrite on a buffer (tests and tools); blockSize sets how the input is cut into reads. */
export async function stripMetadataBuffer(
  mime: ImageMime,
  data: Buffer,
  options: WalkOptions,
  blockSize?: number,
): Promise<{ info: ContainerInfo; data: Buffer }> {
  const sink = new MemorySink();
  const info = await WALKERS[mime](new ByteReader(bufferSource(data, blockSize)), sink, options);
  return { info, data: sink.result() };
}
