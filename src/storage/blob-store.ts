import type { Readable } from 'node:stream';

export interface StoredBlob {
  stream: Readable;
  size: number;
}

/**
 * Where photos live between upload and deletion. Keys are message_keys (64 lowercase hex characters).
 * Uploads always arrive first as a finished temporary file on local disk; putFile takes it over.
 */
export interface BlobStore {
  /** Moves a finished temporary file into the store under key. The temporary file is gone afterwards. */
  putFile(key: string, tempPath: string, contentType: string): Promise<void>;
  /** Opens the blob for streaming, or null when there is none under key. */
  open(key: string): Promise<StoredBlob | null>;
  /** Removes the blob; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
}
