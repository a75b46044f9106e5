import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertBlobKey, BLOB_KEY, type BlobListing, type BlobStore, type StoredBlob } from './blob-store';

const DOWNLOAD_CHUNK = 256 * 1024;

export interface ReadLimits {
  /** Files up to this size are read whole in one call and sent from memory: far cheaper than a stream. */
  wholeFileMax: number;
  /** At most this many bytes are held read whole at once, over all downloads; beyond it files stream. */
  budget: number;
}

const DEFAULT_READ_LIMITS: ReadLimits = { wholeFileMax: 1024 * 1024, budget: 64 * 1024 * 1024 };
const noop = () => undefined;
const openFile = promisify(fs.open);
const closeFile = promisify(fs.close);
const fstat = promisify(fs.fstat);
const readAt = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );

/** Files under one folder, sharded by the key's first two characters: uploads/ab/ab12...ef. */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  /** Shard folders known to exist: one mkdir per folder, not one per photo. */
  private readonly shards = new Set<string>();

  /** Bytes of files read whole whose responses have not ended yet. */
  private held = 0;

  constructor(
    private readonly root: string,
    private readonly limits: ReadLimits = DEFAULT_READ_LIMITS,
  ) {}

  /** Bytes currently held by downloads read whole (for the tests of the budget). */
  get heldBytes(): number {
    return this.held;
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

  async open(key: string, expectedSize?: number): Promise<StoredBlob | null> {
    let fd: number;
    try {
      fd = await openFile(this.pathFor(key), 'r');
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
      if (!streamed) await closeFile(fd);
    }
  }

  /**
   * The file read in one call when it is `size` bytes and fits the limits, its bytes held against the
   * budget until release; null when it does not fit or turns out to be of another size.
   */
  private async readWhole(fd: number, size: number, readLength: number): Promise<StoredBlob | null> {
    if (size > this.limits.wholeFileMax || this.held + readLength > this.limits.budget) return null;
    this.held += readLength;
    let released = false;
    const release = () => {
      if (!released) this.held -= readLength;
      released = true;
    };
    try {
      const bytes = Buffer.allocUnsafe(readLength);
      let filled = 0;
      while (filled < readLength) {
        const read = await readAt(fd, bytes, filled, readLength - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      if (filled !== size) {
        release();
        return null;
      }
      return { size, body: bytes.subarray(0, size), release };
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

  async checkWritable(): Promise<void> {
    await fs.promises.mkdir(this.root, { recursive: true });
    const probe = path.join(this.root, `.probe-${crypto.randomBytes(6).toString('hex')}`);
    await fs.promises.writeFile(probe, 'ok');
    await fs.promises.rm(probe, { force: true });
  }
}
