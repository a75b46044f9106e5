import type { MessagesRepository } from '../db/messages-repository';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import type { TempFiles } from '../storage/temp-files';

export interface SweeperDeps {
  messages: MessagesRepository;
  blobs: BlobStore;
  tempFiles: TempFiles;
  logger: Logger;
  now: () => number;
  ttlMs: number;
  /** A stored file without a live row is removed once it is this old. */
  orphanGraceMs: number;
}

export interface SweepReport {
  expired: number;
  orphanFiles: number;
  tempFiles: number;
}

const BATCH = 500;

/**
 * Keeps storage and rows in step: expires messages past their TTL (row kept, file removed), removes stored
 * files that no live row points to (a send cut off between storing the file and committing its row, or a
 * delete cut off between the row and the file), and temporary files of interrupted uploads. Runs at start
 * and every SWEEP_INTERVAL; safe to run on several instances at once.
 */
export function sweeper({ messages, blobs, tempFiles, logger, now, ttlMs, orphanGraceMs }: SweeperDeps) {
  async function expire(): Promise<number> {
    let total = 0;
    for (;;) {
      const keys = await messages.expireSentBefore(now() - ttlMs, now(), BATCH);
      for (const key of keys) await blobs.delete(key);
      total += keys.length;
      if (keys.length < BATCH) return total;
    }
  }

  async function removeOrphans(): Promise<number> {
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      const live = await messages.liveKeysAmong(batch);
      for (const key of batch.filter((k) => !live.has(k))) {
        await blobs.delete(key);
        removed += 1;
      }
      batch = [];
    };
    const cutoff = now() - orphanGraceMs;
    for await (const blob of blobs.list()) {
      // A young file may belong to a send whose row is about to commit.
      if (blob.modifiedAt > cutoff) continue;
      batch.push(blob.key);
      if (batch.length === BATCH) await flush();
    }
    await flush();
    return removed;
  }

  return {
    async run(): Promise<SweepReport> {
      const report = {
        expired: await expire(),
        orphanFiles: await removeOrphans(),
        tempFiles: await tempFiles.sweep(Math.max(orphanGraceMs, 60_000)),
      };
      if (report.expired || report.orphanFiles || report.tempFiles) {
        logger.info({ event: 'sweeper.swept', ...report }, 'swept storage');
      }
      return report;
    },
  };
}
