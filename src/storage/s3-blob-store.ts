import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
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

export interface S3Settings {
  bucket: string;
  region: string;
  endpoint: string | null;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  forcePathStyle: boolean;
  /** Prepended to every object name, e.g. "pushpic/". */
  prefix: string;
}

/** An S3-compatible bucket (AWS S3, MinIO, Garage, s3rver...), objects named <prefix>ab/ab12...ef. */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly s3: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.s3 = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint ?? undefined,
      forcePathStyle: settings.forcePathStyle,
      credentials:
        settings.accessKeyId && settings.secretAccessKey
          ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
          : undefined,
      // Checksums only where S3 requires them: many S3-compatible servers reject the SDK's default
      // aws-chunked CRC32 uploads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectName(key: string): string {
    assertBlobKey(key);
    return `${this.settings.prefix}${key.slice(0, 2)}/${key}`;
  }

  async putFile(key: string, tempPath: string, contentType: string): Promise<void> {
    const { size } = await fs.promises.stat(tempPath);
    // One PUT streamed from disk with its length known: no part buffering in memory.
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.settings.bucket,
        Key: this.objectName(key),
        Body: fs.createReadStream(tempPath),
        ContentLength: size,
        ContentType: contentType,
      }),
    );
    await fs.promises.rm(tempPath, { force: true });
  }

  async open(key: string): Promise<StoredBlob | null> {
    try {
      const res = await this.s3.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectName(key) }),
      );
      return { body: res.Body as Readable, size: Number(res.ContentLength), release: () => undefined };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.objectName(key) }));
  }

  async *list(): AsyncIterable<BlobListing> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: this.settings.prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = (object.Key ?? '').split('/').pop() ?? '';
        if (BLOB_KEY.test(key)) yield { key, modifiedAt: object.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  readonly setting = 'S3_BUCKET and S3_PREFIX';
  get where(): string {
    return `${this.settings.bucket}/${this.settings.prefix}`;
  }

  async readOwner(): Promise<string | null> {
    const Key = `${this.settings.prefix}${OWNER_MARKER}`;
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key }));
      return ownerOf((await res.Body?.transformToString()) ?? '');
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }

  async claimOwner(databaseId: string): Promise<string | null> {
    try {
      // If-None-Match: * creates the object only if there is none (S3's conditional write; a server that
      // ignores it overwrites, and the reading below still tells the last writer).
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: `${this.settings.prefix}${OWNER_MARKER}`,
          Body: ownerMarker(databaseId),
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'PreconditionFailed' && e.$metadata?.httpStatusCode !== 412) throw err;
    }
    return this.readOwner();
  }

  async checkWritable(): Promise<void> {
    const probe = `${this.settings.prefix}.probe-${crypto.randomBytes(6).toString('hex')}`;
    await this.s3.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: probe, Body: 'ok' }));
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: probe }));
  }
}
