import fs from 'node:fs';

/**
 * Bounded-memory byte I/O for the container rewriters: a pull reader over an upload as it streams in (or
 * a buffer, in tests) and sinks that write to a file, collect in memory, or discard. A reader holds the
 * chunks it has not consumed (at most the item being parsed plus one chunk); a file sink holds at most
 * FLUSH_BYTES before writing.
 */

/** The image ended before its structure said it would, or says something impossible. */
export class InvalidImageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidImageError';
  }
}

export const READ_BLOCK = 64 * 1024;
const FLUSH_BYTES = 256 * 1024;

export interface ByteSource {
  /**
   * The next bytes (about length; a stream gives its chunks as they come) in a buffer nobody modifies
   * afterwards; an empty buffer means the end.
   */
  read(length: number): Promise<Buffer>;
}

/** An upload's bytes: a Readable, or any (async) iterable of buffers. */
export type Chunks = AsyncIterable<Buffer> | Iterable<Buffer>;

/** Reads chunks as a stream delivers them (an upload in progress), counting them. */
export function streamSource(
  chunks: Chunks,
): ByteSource & { readonly received: number; readonly failure: unknown } {
  const it: AsyncIterator<Buffer> | Iterator<Buffer> =
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  const source = {
    received: 0,
    /** What the stream threw (the client went away, the body was malformed), if it did. */
    failure: undefined as unknown,
    async read() {
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (err) {
        source.failure = err;
        throw err;
      }
      if (next.done) return Buffer.alloc(0);
      source.received += next.value.length;
      return next.value;
    },
  };
  return source;
}

/** Writes every chunk read from source to sink as it is read: the bytes kept exactly as sent. */
export function teeSource(source: ByteSource, sink: ByteSink): ByteSource {
  return {
    async read(length) {
      const chunk = await source.read(length);
      await sink.write(chunk);
      return chunk;
    },
  };
}

export function bufferSource(data: Buffer, blockSize = READ_BLOCK): ByteSource {
  let at = 0;
  return {
    async read(length) {
      const n = Math.min(length, blockSize, data.length - at);
      const out = Buffer.from(data.subarray(at, at + n));
      at += n;
      return out;
    },
  };
}

export interface ByteSink {
  /** Appends bytes. The sink may keep the buffer until it flushes: callers must not modify it afterwards. */
  write(bytes: Buffer): Promise<void> | void;
  /** Overwrites bytes already written (or still buffered) at an absolute position, when the sink closes. */
  patch(position: number, bytes: Buffer): void;
  /** Bytes written so far. */
  readonly written: number;
}

/** Discards everything: the rewriters run over it to check a file's structure without copying it. */
export class NullSink implements ByteSink {
  written = 0;
  write(bytes: Buffer): void {
    this.written += bytes.length;
  }
  patch(): void {}
}

export class MemorySink implements ByteSink {
  written = 0;
  private readonly parts: Buffer[] = [];
  private readonly patches: { position: number; bytes: Buffer }[] = [];
  write(bytes: Buffer): void {
    this.parts.push(bytes);
    this.written += bytes.length;
  }
  patch(position: number, bytes: Buffer): void {
    this.patches.push({ position, bytes });
  }
  result(): Buffer {
    const out = Buffer.concat(this.parts);
    for (const p of this.patches) p.bytes.copy(out, p.position);
    return out;
  }
}

export class FileSink implements ByteSink {
  written = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly patches: { position: number; bytes: Buffer }[] = [];

  constructor(private readonly handle: fs.promises.FileHandle) {}

  write(bytes: Buffer): Promise<void> | void {
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.written += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) return this.flush();
  }

  patch(position: number, bytes: Buffer): void {
    this.patches.push({ position, bytes });
  }

  private async flush(): Promise<void> {
    const parts = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (parts.length) await this.handle.writev(parts);
  }

  /** Writes what is buffered, then the patches. */
  async finish(): Promise<void> {
    await this.flush();
    for (const p of this.patches) await this.handle.write(p.bytes, 0, p.bytes.length, p.position);
  }
}

/**
 * A pull reader with a small window over its source. Methods that need bytes the source does not have
 * throw InvalidImageError (the file is truncated).
 */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Absolute offset of buf[0]. */
  private base = 0;
  private eof = false;

  constructor(private readonly source: ByteSource) {}

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Makes at least n bytes available if the source has them; false at the end of the source. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.eof) {
      const more = await this.source.read(Math.max(READ_BLOCK, n - this.buffered));
      if (more.length === 0) {
        this.eof = true;
        break;
      }
      const rest = this.buf.subarray(this.pos);
      this.base += this.pos;
      this.pos = 0;
      this.buf = rest.length ? Buffer.concat([rest, more]) : more;
    }
    return this.buffered >= n;
  }

  /** True when every byte has been read. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Up to n bytes from the window (fewer at the end), not consumed. */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.buf.subarray(this.pos, this.pos + n);
  }

  /** Reads the source to its end, passing what is left to the sink (or dropping it when sink is null). */
  async drain(sink: ByteSink | null): Promise<void> {
    while (await this.fill(1)) await this.take(this.buffered, sink);
  }

  /** The next n bytes, consumed. The returned buffer is never modified afterwards. */
  async bytes(n: number, what = 'image'): Promise<Buffer> {
    if (!(await this.fill(n))) throw new InvalidImageError(`the ${what} is truncated`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async u8(what?: string): Promise<number> {
    return (await this.bytes(1, what))[0];
  }

  /** The bytes buffered now (at least one unless at the end), without consuming them. */
  async window(): Promise<Buffer> {
    await this.fill(1);
    return this.buf.subarray(this.pos);
  }

  /** Consumes n buffered bytes (n ≤ buffered), passing them to the sink if any. */
  async take(n: number, sink: ByteSink | null): Promise<void> {
    if (n > this.buffered) throw new Error('take beyond the buffered window');
    const part = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    if (sink && n) await sink.write(part);
  }

  /**
   * Moves n bytes from the source to the sink (or drops them when sink is null) a block at a time,
   * showing each block to onBytes (checksums).
   */
  async forward(
    n: number,
    sink: ByteSink | null,
    onBytes?: (b: Buffer) => void,
    what = 'image',
  ): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill(1))) throw new InvalidImageError(`the ${what} is truncated`);
      const k = Math.min(left, this.buffered);
      const part = this.buf.subarray(this.pos, this.pos + k);
      this.pos += k;
      left -= k;
      onBytes?.(part);
      if (sink) await sink.write(part);
    }
  }
}

/** Rejects a file whose structure a rewriter found wrong. */
export function invalid(reason: string): never {
  throw new InvalidImageError(reason);
}
