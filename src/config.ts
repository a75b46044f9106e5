import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);
const onOff = z
  .enum(['on', 'off', 'true', 'false', '1', '0'])
  .transform((v) => ['on', 'true', '1'].includes(v));

/**
 * Every setting pushpic reads, with its default. Nothing else in the code reads process.env:
 * config is parsed once at start, every problem is reported together, and the result is frozen.
 */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0).max(65535).default(3000),
  /** PostgreSQL connection string. Empty means the embedded SQLite database at SQLITE_FILE. */
  DATABASE_URL: z.string().default(''),
  SQLITE_FILE: z.string().default('./data/pushpic.sqlite'),
  MIGRATE_ON_START: bool.default(true),
  UPLOAD_DIR: z.string().default('./uploads'),
  MAX_UPLOAD_BYTES: int(1).default(10 * 1024 * 1024),
  PUSH_PROVIDER: z.enum(['mock']).default('mock'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LIST_DEFAULT_LIMIT: int(1).max(1000).default(50),
  LIST_MAX_LIMIT: int(1).max(1000).default(200),
  /** Largest image accepted, in pixels (width × height), read from the header before any decoding. */
  MAX_IMAGE_PIXELS: int(1).default(40_000_000),
  /** Remove EXIF, XMP, IPTC, comments and text chunks from stored photos, losslessly. */
  STRIP_METADATA: bool.default(true),
  /** A blurhash of the photo in the push payload and the pending list. */
  PUSH_PREVIEW: onOff.default(true),
  /** Previews decoded by sharp at once; further photos wait their turn (checks and stripping stream). */
  IMAGE_CONCURRENCY: int(1).max(64).default(2),
});

export type RawConfig = z.infer<typeof schema>;

export interface Config {
  readonly env: string;
  readonly host: string;
  readonly port: number;
  readonly database: {
    readonly url: string | null;
    readonly sqliteFile: string;
    readonly migrateOnStart: boolean;
  };
  readonly uploadDir: string;
  readonly maxUploadBytes: number;
  readonly push: { readonly provider: RawConfig['PUSH_PROVIDER'] };
  readonly logLevel: RawConfig['LOG_LEVEL'];
  readonly list: { readonly defaultLimit: number; readonly maxLimit: number };
  readonly images: {
    readonly maxPixels: number;
    readonly stripMetadata: boolean;
    readonly preview: boolean;
    readonly concurrency: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reads configuration from an environment map (process.env in production, a literal in tests). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.LIST_DEFAULT_LIMIT > c.LIST_MAX_LIMIT)
    problems.push('LIST_DEFAULT_LIMIT: must not exceed LIST_MAX_LIMIT');
  if (problems.length) throw new ConfigError(problems);

  return deepFreeze({
    env: c.NODE_ENV,
    host: c.HOST,
    port: c.PORT,
    database: {
      url: c.DATABASE_URL || null,
      sqliteFile: path.resolve(c.SQLITE_FILE),
      migrateOnStart: c.MIGRATE_ON_START,
    },
    uploadDir: path.resolve(c.UPLOAD_DIR),
    maxUploadBytes: c.MAX_UPLOAD_BYTES,
    push: { provider: c.PUSH_PROVIDER },
    logLevel: c.LOG_LEVEL,
    list: { defaultLimit: c.LIST_DEFAULT_LIMIT, maxLimit: c.LIST_MAX_LIMIT },
    images: {
      maxPixels: c.MAX_IMAGE_PIXELS,
      stripMetadata: c.STRIP_METADATA,
      preview: c.PUSH_PREVIEW,
      concurrency: c.IMAGE_CONCURRENCY,
    },
  });
}
