import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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

  async open(key: string): Promise<StoredBlob | null> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.pathFor(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Stat the open descriptor: a delete racing this download cannot change what is sent.
    const { size } = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (size > this.limits.wholeFileMax || this.held + size > this.limits.budget) {
      // Large files, or many at once: stream in a few large chunks rather than many 64 KB ones.
      return { size, body: handle.createReadStream({ highWaterMark: DOWNLOAD_CHUNK }), release: noop };
    }
    this.held += size;
    let released = false;
    const release = () => {
      if (!released) this.held -= size;
      released = true;
    };
    try {
      const bytes = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) throw new Error(`${key} is shorter than its size`);
        filled += bytesRead;
      }
      return { size, body: bytes, release };
    } catch (err) {
      release();
      throw err;
    } finally {
      await handle.close();
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
