import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  assertBlobKey,
  BLOB_KEY,
  OWNER_MARKER,
  ownerMarker,
  ownerOf,
  type BlobListing,
  type BlobStore,
  type StoredBlob,
} from './blob-store';

const DOWNLOAD_CHUNK = 256 * 1024;

export interface ReadLimits {
  /** Files up to this size are read whole in one call and sent from memory: far cheaper than a stream. */
  wholeFileMax: number;
  /** At most this many bytes are held read whole at once, over all downloads; beyond it files stream. */
  budget: number;
}

const DEFAULT_READ_LIMITS: ReadLimits = { wholeFileMax: 1024 * 1024, budget: 64 * 1024 * 1024 };
/** Read buffers kept for reuse while no download holds them, at most this many bytes of them. */
const SPARE_BUFFER_BYTES = 16 * 1024 * 1024;
const noop = () => undefined;
const fstat = promisify(fs.fstat);
const readAt = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );

/**
 * Buffers for the files read whole, reused once their response has ended. A fresh 200 KB buffer per
 * download costs more than reading the file into it (its pages are faulted in, then left to the GC):
 * measured on one core, opening, reading and closing a 200 KB file took 130-185 µs of CPU into a new buffer
 * and 70-95 µs into a reused one. Capacities come in classes a quarter of a power of two apart, so a spare fits the next file
 * of about the same size.
 */
export class ReadBuffers {
  private readonly spare = new Map<number, Buffer[]>();
  private spareBytes = 0;

  constructor(private readonly maxSpareBytes: number) {}

  /** Bytes kept for reuse (for the tests). */
  get kept(): number {
    return this.spareBytes;
  }

  /** A buffer of at least length bytes, its contents left from earlier use. */
  take(length: number): Buffer {
    const capacity = ReadBuffers.capacityFor(length);
    const buffer = this.spare.get(capacity)?.pop();
    if (!buffer) return Buffer.allocUnsafeSlow(capacity);
    this.spareBytes -= capacity;
    return buffer;
  }

  /** Takes back a buffer from take(); it must no longer be in use anywhere (its response has closed). */
  give(buffer: Buffer): void {
    if (this.spareBytes + buffer.length > this.maxSpareBytes) return; // left to the GC
    const list = this.spare.get(buffer.length);
    if (list) list.push(buffer);
    else this.spare.set(buffer.length, [buffer]);
    this.spareBytes += buffer.length;
  }

  static capacityFor(length: number): number {
    const step = 2 ** Math.max(0, Math.floor(Math.log2(Math.max(1, length))) - 2);
    return Math.ceil(length / step) * step;
  }
}

/** Files under one folder, sharded by the key's first two characters: uploads/ab/ab12...ef. */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  /** Shard folders known to exist: one mkdir per folder, not one per photo. */
  private readonly shards = new Set<string>();

  /** Bytes of files read whole whose responses have not ended yet. */
  private held = 0;
  private readonly buffers = new ReadBuffers(SPARE_BUFFER_BYTES);

  constructor(
    private readonly root: string,
    private readonly limits: ReadLimits = DEFAULT_READ_LIMITS,
  ) {}

  /** Bytes currently held by downloads read whole (for the tests of the budget). */
  get heldBytes(): number {
    return this.held;
  }

  /** Read buffers kept for the next downloads (for the tests). */
  get spareBufferBytes(): number {
    return this.buffers.kept;
  }

  pathFor(key: string): string {
    assertBlobKey(key);
    return path.join(this.root, key.slice(0, 2), key);
  }

  async putFile(key: string, tempPath: string): Promise<void> {
    const target = this.pathFor(key);
    const shard = path.dirname(target);
    if (this.shards.has(shard)) {
      try {
        return await fs.promises.rename(tempPath, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.shards.delete(shard); // the folder was removed behind our back: make it again
      }
    }
    await fs.promises.mkdir(shard, { recursive: true });
    this.shards.add(shard);
    await fs.promises.rename(tempPath, target);
  }

  /**
   * Opens and closes synchronously, reads on the threadpool (as nginx does with `aio threads`): an open in a
   * shard folder the kernel has cached and the close of a read-only descriptor do not wait for the disk, and
   * each threadpool round trip costs two thread switches: the two saved 20-40 µs of CPU per download on one
   * core. The read is what can wait for the disk, so it stays off the event loop.
   */
  async open(key: string, expectedSize?: number): Promise<StoredBlob | null> {
    let fd: number;
    try {
      fd = fs.openSync(this.pathFor(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Everything below works on the open descriptor: a delete racing this download cannot change what
    // is sent. Plain descriptors rather than FileHandles: cheaper per call.
    let streamed: StoredBlob | null = null;
    try {
      if (expectedSize !== undefined) {
        // The size the message's row records saves a stat: one read of a byte more than that finds a file
        // of another size (a damaged store), which then takes the careful path below.
        const whole = await this.readWhole(fd, expectedSize, expectedSize + 1);
        if (whole) return whole;
      }
      const { size } = await fstat(fd);
      const whole = await this.readWhole(fd, size, size);
      if (whole) return whole;
      // Large files, or many at once: streamed in a few large chunks rather than many 64 KB ones. The
      // stream owns fd from here and closes it.
      streamed = {
        size,
        body: fs.createReadStream('', { fd, highWaterMark: DOWNLOAD_CHUNK }),
        release: noop,
      };
      return streamed;
    } finally {
      if (!streamed) fs.closeSync(fd);
    }
  }

  /**
   * The file read in one call when it is `size` bytes and fits the limits, its bytes held against the
   * budget until release; null when it does not fit or turns out to be of another size. The buffer is a
   * reused one: release gives it back, so it must only be called once nothing reads the body any more.
   */
  private async readWhole(fd: number, size: number, readLength: number): Promise<StoredBlob | null> {
    if (size > this.limits.wholeFileMax || this.held + readLength > this.limits.budget) return null;
    this.held += readLength;
    const buffer = this.buffers.take(readLength);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.held -= readLength;
      this.buffers.give(buffer);
    };
    try {
      let filled = 0;
      while (filled < readLength) {
        const read = await readAt(fd, buffer, filled, readLength - filled, filled);
        if (read === 0) break;
        filled += read;
        // A read of a regular file that stops short has reached the end: one more read would answer 0.
        if (filled === size) break;
      }
      if (filled !== size) {
        release();
        return null;
      }
      return { size, body: buffer.subarray(0, size), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.pathFor(key), { force: true });
  }

  async *list(): AsyncIterable<BlobListing> {
    const shards = await fs.promises.readdir(this.root).catch(() => [] as string[]);
    for (const shard of shards.filter((s) => /^[0-9a-f]{2}$/.test(s))) {
      const dir = path.join(this.root, shard);
      for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
        if (!BLOB_KEY.test(name)) continue;
        const stat = await fs.promises.stat(path.join(dir, name)).catch(() => null);
        if (stat) yield { key: name, modifiedAt: stat.mtimeMs };
      }
    }
  }

  readonly setting = 'UPLOAD_DIR';
  get where(): string {
    return this.root;
  }

  async readOwner(): Promise<string | null> {
    try {
      return ownerOf(await fs.promises.readFile(path.join(this.root, OWNER_MARKER), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async claimOwner(databaseId: string): Promise<string | null> {
    await fs.promises.mkdir(this.root, { recursive: true });
    const temp = path.join(this.root, `${OWNER_MARKER}.${crypto.randomBytes(6).toString('hex')}`);
    await fs.promises.writeFile(temp, ownerMarker(databaseId));
    try {
      // link() fails when the marker exists: whole when it appears, and never over another's.
      await fs.promises.link(temp, path.join(this.root, OWNER_MARKER));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await fs.promises.rm(temp, { force: true });
    }
    return this.readOwner();
  }

  async checkWritable(): Promise<void> {
    await fs.promises.mkdir(this.root, { recursive: true });
    const probe = path.join(this.root, `.probe-${crypto.randomBytes(6).toString('hex')}`);
    await fs.promises.writeFile(probe, 'ok');
    await fs.promises.rm(probe, { force: true });
  }
}
