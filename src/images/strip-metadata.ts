import type fs from 'node:fs';
import { AppError } from '../errors';
import {
  ByteReader,
  FileSink,
  InvalidImageError,
  MemorySink,
  NullSink,
  bufferSource,
  type Chunks,
  streamSource,
  teeSource,
} from './byte-io';
import { walkAvif } from './containers/avif';
import type { ContainerInfo, ContainerWalker, WalkOptions } from './containers/container';
import { walkGif } from './containers/gif';
import { walkJpeg } from './containers/jpeg';
import { walkPng } from './containers/png';
import { walkWebp } from './containers/webp';
import { SNIFF_BYTES, detectImageType, type ImageMime } from './detect-image-type';

export type { ContainerInfo, WalkOptions };

const WALKERS: Record<ImageMime, ContainerWalker> = {
  'image/jpeg': walkJpeg,
  'image/png': walkPng,
  'image/webp': walkWebp,
  'image/gif': walkGif,
  'image/avif': walkAvif,
};

export interface ReceiveOptions extends WalkOptions {
  /** Write the image without its metadata (true), or exactly as sent (false). Either way it is checked. */
  strip: boolean;
}

export interface Received {
  /** The type the first bytes say, or null for anything that is not an accepted image. */
  mime: ImageMime | null;
  /** What the container's headers say, when its walk succeeded. */
  info: ContainerInfo | null;
  /** Why the image is refused: an InvalidImageError, or what checkDimensions threw. */
  problem: InvalidImageError | AppError | null;
  receivedBytes: number;
  storedBytes: number;
}

/**
 * Receives an upload's bytes as they arrive and writes them to output in one pass: without metadata when
 * stripping, else as sent, checking the container's structure on the way. Memory stays bounded by the
 * stream's chunks, the largest segment parsed (64 KB for JPEG) and the sink's write buffer. The whole
 * input is always read, so that the request can finish; what follows a refused image is not written.
 * Rejects only when the stream or the file fails.
 */
export async function receiveImage(
  chunks: Chunks,
  output: fs.promises.FileHandle,
  options: ReceiveOptions,
): Promise<Received> {
  const source = streamSource(chunks);
  const file = new FileSink(output);
  const reader = new ByteReader(options.strip ? source : teeSource(source, file));
  const mime = detectImageType(await reader.peek(SNIFF_BYTES));
  let info: ContainerInfo | null = null;
  let problem: Received['problem'] = null;
  if (mime) {
    try {
      info = await WALKERS[mime](reader, options.strip ? file : new NullSink(), options);
    } catch (err) {
      // The upload failed (the client went away) or the disk did: not the image's fault.
      if (err === source.failure || (err as NodeJS.ErrnoException).syscall) throw err;
      // Anything else a walker throws comes from the file's bytes: a bad file, never a server error.
      problem =
        err instanceof InvalidImageError || err instanceof AppError
          ? err
          : new InvalidImageError('its structure could not be read');
    }
  }
  // What is left (a JPEG's trailer when stripping, the rest of a refused file) is read and dropped; when
  // not stripping, the tee has written every byte already.
  await reader.drain(null);
  await file.finish();
  return { mime, info, problem, receivedBytes: source.received, storedBytes: file.written };
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
