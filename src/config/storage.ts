import path from 'node:path';
import { z } from 'zod';
import { bool, duration, int, section } from './values';

export const storage = section({
  settings: {
    UPLOAD_DIR: z.string().default('./uploads'),
    MAX_UPLOAD_BYTES: int(1).default(10 * 1024 * 1024),
    BLOB_STORE: z.enum(['local', 's3']).default('local'),
    S3_BUCKET: z.string().default(''),
    S3_REGION: z.string().default('us-east-1'),
    S3_ENDPOINT: z.string().url().or(z.literal('')).default(''),
    S3_ACCESS_KEY_ID: z.string().default(''),
    S3_SECRET_ACCESS_KEY: z.string().default(''),
    S3_FORCE_PATH_STYLE: bool.optional(),
    S3_PREFIX: z.string().default(''),
    MESSAGE_TTL: duration.prefault('7d'),
    SWEEP_INTERVAL: duration.prefault('5m'),
    ORPHAN_GRACE: duration.prefault('15m'),
    LIST_DEFAULT_LIMIT: int(1).max(1000).default(50),
    LIST_MAX_LIMIT: int(1).max(1000).default(200),
  },
  build: (s) => ({
    uploadDir: path.resolve(s.UPLOAD_DIR),
    maxUploadBytes: s.MAX_UPLOAD_BYTES,
    blobStore:
      s.BLOB_STORE === 'local'
        ? { kind: 'local' as const }
        : {
            kind: 's3' as const,
            bucket: s.S3_BUCKET,
            region: s.S3_REGION,
            endpoint: s.S3_ENDPOINT || null,
            accessKeyId: s.S3_ACCESS_KEY_ID || null,
            secretAccessKey: s.S3_SECRET_ACCESS_KEY || null,
            forcePathStyle: s.S3_FORCE_PATH_STYLE ?? Boolean(s.S3_ENDPOINT),
            prefix: s.S3_PREFIX,
          },
    /** Messages not downloaded within this many ms expire. */
    messageTtlMs: s.MESSAGE_TTL,
    /** How often the sweeper expires messages and reconciles files with rows. */
    sweepIntervalMs: s.SWEEP_INTERVAL,
    /** A stored file without its row is removed once it is this old (it may belong to a send in flight). */
    orphanGraceMs: s.ORPHAN_GRACE,
    list: { defaultLimit: s.LIST_DEFAULT_LIMIT, maxLimit: s.LIST_MAX_LIMIT },
  }),
  problems: (raw) => {
    const problems: string[] = [];
    const num = (k: string, fallback: number) => (raw[k] === undefined ? fallback : Number(raw[k]));
    if (num('LIST_DEFAULT_LIMIT', 50) > num('LIST_MAX_LIMIT', 200))
      problems.push('LIST_DEFAULT_LIMIT: must not exceed LIST_MAX_LIMIT');
    if (raw.BLOB_STORE === 's3' && !raw.S3_BUCKET) problems.push('S3_BUCKET: required when BLOB_STORE=s3');
    if (raw.BLOB_STORE === 's3' && !raw.S3_ACCESS_KEY_ID !== !raw.S3_SECRET_ACCESS_KEY)
      problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither');
    return problems;
  },
});
