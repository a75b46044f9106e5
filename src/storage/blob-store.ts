import type { Readable } from 'node:stream';

export interface StoredBlob {
  size: number;
  /** The whole blob when it was small enough to read in one go (the cheapest to send), else a stream of it. */
  body: Buffer | Readable;
  /**
   * Frees the blob's share of the store's read-ahead budget, and its buffer for reuse by another download:
   * call once, when its response has closed (ended or failed), never while the body may still be read.
   */
  release(): void;
}

export interface BlobListing {
  key: string;
  /** When the blob was written, epoch ms. */
  modifiedAt: number;
}

/**
 * Where photos live between upload and deletion. Keys are message_keys (64 lowercase hex characters).
 * Uploads always arrive first as a finished temporary file on local disk; putFile takes it over.
 */
export interface BlobStore {
  readonly kind: string;
  /** Moves a finished temporary file into the store under key. The temporary file is gone afterwards. */
  putFile(key: string, tempPath: string, contentType: string): Promise<void>;
  /** Opens the blob to send, or null when there is none under key. expectedSize: what its row records. */
  open(key: string, expectedSize?: number): Promise<StoredBlob | null>;
  /** Removes the blob; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** Every stored blob, in no particular order (for the reconciler). */
  list(): AsyncIterable<BlobListing>;
  /** Writes and removes a probe object; throws when the store cannot take writes (for /readyz). */
  checkWritable(): Promise<void>;
  /** The settings that say where the store is, and where they say (for messages to ops). */
  readonly setting: string;
  readonly where: string;
  /** The id of the database this store serves, from its marker; null when it has none. */
  readOwner(): Promise<string | null>;
  /**
   * Marks the store as serving this database unless a marker is there already (created exclusively, so
   * that of two databases starting at once on one store only one wins); answers the id the store's
   * marker names now.
   */
  claimOwner(databaseId: string): Promise<string | null>;
}

/** The marker's name at the root of a store: never a blob key, so never listed or swept as one. */
export const OWNER_MARKER = '.pushpic-store.json';

export function ownerMarker(databaseId: string): string {
  return `${JSON.stringify({ database_id: databaseId })}\n`;
}

/** The database id a marker names (null for a marker that is not one of ours). */
export function ownerOf(marker: string): string | null {
  try {
    const id = (JSON.parse(marker) as { database_id?: unknown }).database_id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

export const BLOB_KEY = /^[0-9a-f]{64}$/;

/** Blob keys are message_keys; anything else must never reach a path or an object name. */
export function assertBlobKey(key: string): void {
  if (!BLOB_KEY.test(key)) throw new Error(`not a blob key: ${JSON.stringify(key)}`);
}
