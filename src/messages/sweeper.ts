import type { MessagesRepository } from '../db/messages-repository';
import type { PushJobsRepository } from '../db/push-jobs-repository';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import type { TempFiles } from '../storage/temp-files';

export interface SweeperDeps {
  messages: MessagesRepository;
  pushJobs: PushJobsRepository;
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
  prunedJobs: number;
}

const BATCH = 500;

/**
 * Keeps storage and rows in step: expires messages past their TTL (row kept, file removed), removes stored
 * files that no live row points to (a send cut off between storing the file and committing its row, or a
 * delete cut off between the row and the file), temporary files of interrupted uploads, and push jobs that
 * finished longer than MESSAGE_TTL ago. Runs at start
 * and every SWEEP_INTERVAL; safe to run on several instances at once.
 */
export function sweeper({
  messages,
  pushJobs,
  blobs,
  tempFiles,
  logger,
  now,
  ttlMs,
  orphanGraceMs,
}: SweeperDeps) {
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

  /** Finished push jobs are kept as a record until their message could no longer be pending. */
  async function pruneJobs(): Promise<number> {
    let total = 0;
    for (;;) {
      const pruned = await pushJobs.pruneFinished(now() - ttlMs, BATCH);
      total += pruned;
      if (pruned < BATCH) return total;
    }
  }

  return {
    async run(): Promise<SweepReport> {
      const report = {
        expired: await expire(),
        orphanFiles: await removeOrphans(),
        tempFiles: await tempFiles.sweep(Math.max(orphanGraceMs, 60_000)),
        prunedJobs: await pruneJobs(),
      };
      if (report.expired || report.orphanFiles || report.tempFiles || report.prunedJobs) {
        logger.info({ event: 'sweeper.swept', ...report }, 'swept storage');
      }
      return report;
    },
  };
}
