import type { ByteReader, ByteSink } from '../byte-io';

/** What a container walk learned from the file's headers. */
export interface ContainerInfo {
  /** Stored pixel dimensions, from the header (never from decoding). */
  width: number;
  height: number;
  /** EXIF orientation 1-8 the stored file keeps; 1 when there is none. */
  orientation: number;
}

export interface WalkOptions {
  /** Called with the dimensions as soon as the header gives them, before any pixel data is read; throws to refuse. */
  checkDimensions(width: number, height: number): void;
}

/**
 * Walks one container format from input to output: checks its structure (truncation, impossible sizes,
 * bytes after its end) and writes to output every segment or chunk that carries pixels or colour and none
 * that carries metadata. Pixel data is copied byte for byte, never decoded. To only check a file, pass a
 * NullSink.
 */
export type ContainerWalker = (
  input: ByteReader,
  output: ByteSink,
  options: WalkOptions,
) => Promise<ContainerInfo>;
