import { ConfigError } from '../config';
import type { Logger } from '../logger';
import type { BlobStore } from './blob-store';

export interface StoreOwnerDeps {
  blobs: BlobStore;
  /** This database's id (written at its first start). */
  databaseId: () => Promise<string>;
  /** Which of these keys any message row of this database has, or had. */
  knownKeysAmong: (keys: string[]) => Promise<Set<string>>;
  logger: Logger;
}

/** Blobs looked at to tell whether an unmarked store holds this database's photos. */
const SAMPLE = 100;

/**
 * A blob store belongs to one database: its sweeper removes every photo no row of that database knows,
 * so a store shared with another database (an UPLOAD_DIR reused when DATABASE_URL changed) would lose
 * that database's pending photos. The store carries a marker naming its database; a start against a store
 * marked by another database stops with a ConfigError. An unmarked store is marked when it is empty, or
 * when the photos it holds are this database's (a store made before the marker existed).
 */
export async function claimStore(deps: StoreOwnerDeps): Promise<void> {
  const { blobs } = deps;
  try {
    await claim(deps);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A store that cannot be read or written (a bucket that does not exist, no access): a setting to fix.
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError([`${blobs.setting}: cannot use ${blobs.where}: ${why}`]);
  }
}

async function claim({ blobs, databaseId, knownKeysAmong, logger }: StoreOwnerDeps): Promise<void> {
  const id = await databaseId();
  const { setting, where } = blobs;
  const another = (owner: string) =>
    new ConfigError([
      `${setting}: ${where} holds the photos of another pushpic database (${owner}); this one is ` +
        `${id}. Give each database its own ${setting}.`,
    ]);
  const owner = await blobs.readOwner();
  if (owner === id) return;
  if (owner !== null) throw another(owner);
  const sample: string[] = [];
  for await (const blob of blobs.list()) {
    sample.push(blob.key);
    if (sample.length === SAMPLE) break;
  }
  if (sample.length && (await knownKeysAmong(sample)).size === 0) {
    throw new ConfigError([
      `${setting}: ${where} holds photos this database has no record of: it is likely another ` +
        `database's store. Give each database its own ${setting}.`,
    ]);
  }
  const claimed = await blobs.claimOwner(id);
  if (claimed !== id) throw another(claimed ?? 'unknown');
  logger.info({ event: 'storage.claimed', where, photos: sample.length }, 'blob store marked');
}
