import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration: "7d", "15m", "30s", "250ms", or a plain number of milliseconds. */
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'must be a duration such as 7d, 15m, 30s or 250ms')
  .transform((v) => {
    const [, n, unit = 'ms'] = /^(\d+)(ms|s|m|h|d)?$/.exec(v)!;
    return Number(n) * UNIT_MS[unit];
  });

/** Where the push preview comes from: see PUSH_PREVIEW. */
export type PreviewMode = 'on' | 'client' | 'off';

export interface RateLimit {
  readonly points: number;
  readonly durationMs: number;
}
/** A rate limit: "60/1m" allows 60 requests a minute; "off" allows any number. */
const rateLimit = z
  .string()
  .regex(/^(off|\d+\/\d+(ms|s|m|h|d)?)$/, 'must be like 60/1m, or off')
  .transform((v): RateLimit | null => {
    if (v === 'off') return null;
    const [points, window] = v.split('/');
    return { points: Number(points), durationMs: duration.parse(window) };
  });

/**
 * Every setting pushpic reads, with its default. Nothing else in the code reads process.env:
 * config is parsed once at start, every problem is reported together, and the result is frozen.
 */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0).max(65535).default(3000),
  /** PostgreSQL connection string. Empty means the embedded SQLite database at SQLITE_FILE. */
  DATABASE_URL: z
    .string()
    .refine(
      (v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v),
      // Never the value itself: it may carry a password.
      'must be a PostgreSQL URL such as postgres://user:password@host:5432/database',
    )
    .or(z.literal(''))
    .default(''),
  /** PostgreSQL schema to use (search_path); empty means the server's default (public). */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier')
    .or(z.literal(''))
    .default(''),
  SQLITE_FILE: z.string().default('./data/pushpic.sqlite'),
  MIGRATE_ON_START: bool.default(true),
  /** How long start-up waits for a database that refuses connections or is still starting up. */
  DATABASE_CONNECT_TIMEOUT: duration.prefault('30s'),
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
  SHUTDOWN_TIMEOUT: duration.prefault('10s'),
  TRUST_PROXY: bool.default(false),
  RATE_LIMIT_STORE: z.enum(['auto', 'memory', 'database', 'redis']).default('auto'),
  REDIS_URL: z.string().default(''),
  RATE_LIMIT_REGISTER_PER_IP: rateLimit.prefault('20/1h'),
  RATE_LIMIT_SEND_PER_USER: rateLimit.prefault('120/1m'),
  RATE_LIMIT_SEND_PER_IP: rateLimit.prefault('600/1m'),
  METRICS_TOKEN: z.string().default(''),
  PUSH_PROVIDER: z.enum(['mock', 'getui', 'fcm']).default('mock'),
  /** Offline retention asked of the provider (GeTui settings.ttl, FCM android.ttl), at most GeTui's 3 days. */
  PUSH_TTL_MS: int(0).max(259_200_000).default(86_400_000),
  PUSH_BATCH_SIZE: int(1).max(200).default(200),
  PUSH_POLL_MS: int(10).default(1000),
  PUSH_BATCH_WINDOW_MS: int(0).max(60_000).default(10),
  /** Short, renewed every third of it: a dead worker's jobs are taken over within seconds. */
  PUSH_LEASE_MS: int(1000).default(10_000),
  /** While a provider is down, one probe push tests it this often (or after its Retry-After). */
  PUSH_PROBE_MS: int(100).default(2000),
  PUSH_RETRY_BASE_MS: int(100).default(5000),
  PUSH_RETRY_MAX_MS: int(100).default(1_800_000),
  PUSH_MAX_ATTEMPTS: int(1).default(25),
  PUSH_HTTP_TIMEOUT_MS: int(100).default(10_000),
  GETUI_APP_ID: z.string().optional(),
  GETUI_APP_KEY: z.string().optional(),
  GETUI_MASTER_SECRET: z.string().optional(),
  GETUI_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://restapi.getui.com/v2'),
  FCM_SERVICE_ACCOUNT_FILE: z.string().optional(),
  /** Defaults to the service account's project_id. */
  FCM_PROJECT_ID: z.string().optional(),
  FCM_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://fcm.googleapis.com/v1'),
  /** Defaults to the service account's token_uri. */
  FCM_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LIST_DEFAULT_LIMIT: int(1).max(1000).default(50),
  LIST_MAX_LIMIT: int(1).max(1000).default(200),
  /** Largest image accepted, in pixels (width × height), read from the header before any decoding. */
  MAX_IMAGE_PIXELS: int(1).default(40_000_000),
  /** Remove EXIF, XMP, IPTC, comments and text chunks from stored photos, losslessly. */
  STRIP_METADATA: bool.default(true),
  /**
   * A blurhash of the photo in the push payload and the pending list: on (the sender's, else decoded here),
   * client (only the sender's; nothing is ever decoded) or off.
   */
  PUSH_PREVIEW: z
    .enum(['on', 'client', 'off', 'true', 'false', '1', '0'])
    .transform((v): PreviewMode =>
      v === 'client' ? 'client' : ['on', 'true', '1'].includes(v) ? 'on' : 'off',
    )
    .default('on'),
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
    readonly schema: string | null;
    readonly sqliteFile: string;
    readonly migrateOnStart: boolean;
    readonly connectTimeoutMs: number;
  };
  readonly uploadDir: string;
  readonly maxUploadBytes: number;
  readonly blobStore:
    | { readonly kind: 'local' }
    | {
        readonly kind: 's3';
        readonly bucket: string;
        readonly region: string;
        readonly endpoint: string | null;
        readonly accessKeyId: string | null;
        readonly secretAccessKey: string | null;
        readonly forcePathStyle: boolean;
        readonly prefix: string;
      };
  /** Messages not downloaded within this many ms expire. */
  readonly messageTtlMs: number;
  /** How often the sweeper expires messages and reconciles files with rows. */
  readonly sweepIntervalMs: number;
  /** A stored file without its row is removed once it is this old (it may belong to a send in flight). */
  readonly orphanGraceMs: number;
  readonly shutdownTimeoutMs: number;
  readonly trustProxy: boolean;
  readonly rateLimits: {
    readonly store: 'memory' | 'database' | 'redis';
    readonly redisUrl: string | null;
    readonly registerPerIp: RateLimit | null;
    readonly sendPerUser: RateLimit | null;
    readonly sendPerIp: RateLimit | null;
  };
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | null;
  readonly push: PushConfig;
  readonly logLevel: RawConfig['LOG_LEVEL'];
  readonly list: { readonly defaultLimit: number; readonly maxLimit: number };
  readonly images: {
    readonly maxPixels: number;
    readonly stripMetadata: boolean;
    readonly preview: PreviewMode;
    readonly concurrency: number;
  };
}

export interface PushConfig {
  readonly provider: RawConfig['PUSH_PROVIDER'];
  readonly ttlMs: number;
  readonly batchSize: number;
  readonly pollMs: number;
  /** How long the worker waits after a new message for more to claim and send with it. */
  readonly batchWindowMs: number;
  readonly leaseMs: number;
  /** While the provider is down, how often one push probes it. */
  readonly probeMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
  readonly httpTimeoutMs: number;
  /** Set when PUSH_PROVIDER=getui. */
  readonly getui: {
    readonly appId: string;
    readonly appKey: string;
    readonly masterSecret: string;
    readonly baseUrl: string;
  } | null;
  /** Set when PUSH_PROVIDER=fcm. */
  readonly fcm: {
    readonly serviceAccountFile: string;
    readonly projectId: string | null;
    readonly baseUrl: string;
    readonly tokenUrl: string | null;
  } | null;
}

/** The settings each provider cannot run without. */
const REQUIRED_BY_PROVIDER: Record<string, string[]> = {
  getui: ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET'],
  fcm: ['FCM_SERVICE_ACCOUNT_FILE'],
};

function missingProviderSettings(present: Record<string, string | undefined>): string[] {
  const provider = present.PUSH_PROVIDER ?? 'mock';
  const missing = (REQUIRED_BY_PROVIDER[provider] ?? []).filter((name) => !present[name]);
  return missing.length ? [`PUSH_PROVIDER=${provider} needs ${missing.join(', ')} (not set)`] : [];
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * A setting that does not work, found by the config check or anywhere else during start-up: the server
 * prints its message (one line per problem) and exits 78 (EX_CONFIG).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `pushpic cannot start: ${problems[0]}`
        : `pushpic cannot start:\n  ${problems.join('\n  ')}`,
    );
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

/** Rules between settings, checked on the raw values so they are reported with every other problem. */
function crossFieldProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const num = (k: string, fallback: number) => (env[k] === undefined ? fallback : Number(env[k]));
  if (num('LIST_DEFAULT_LIMIT', 50) > num('LIST_MAX_LIMIT', 200))
    problems.push('LIST_DEFAULT_LIMIT: must not exceed LIST_MAX_LIMIT');
  if (env.BLOB_STORE === 's3' && !env.S3_BUCKET) problems.push('S3_BUCKET: required when BLOB_STORE=s3');
  if (env.BLOB_STORE === 's3' && !env.S3_ACCESS_KEY_ID !== !env.S3_SECRET_ACCESS_KEY)
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither');
  if (env.RATE_LIMIT_STORE === 'redis' && !env.REDIS_URL)
    problems.push('REDIS_URL: required when RATE_LIMIT_STORE=redis');
  return problems;
}

/** Reads configuration from an environment map (process.env in production, a literal in tests). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  problems.push(...crossFieldProblems(present), ...missingProviderSettings(present));
  if (parsed.success && parsed.data.PUSH_RETRY_BASE_MS > parsed.data.PUSH_RETRY_MAX_MS)
    problems.push('PUSH_RETRY_BASE_MS: must not exceed PUSH_RETRY_MAX_MS');
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const c = parsed.data;
  const rateLimitStore =
    c.RATE_LIMIT_STORE !== 'auto'
      ? c.RATE_LIMIT_STORE
      : c.REDIS_URL
        ? 'redis'
        : c.DATABASE_URL
          ? 'database'
          : 'memory';

  return deepFreeze({
    env: c.NODE_ENV,
    host: c.HOST,
    port: c.PORT,
    database: {
      url: c.DATABASE_URL || null,
      schema: c.DATABASE_SCHEMA || null,
      sqliteFile: path.resolve(c.SQLITE_FILE),
      migrateOnStart: c.MIGRATE_ON_START,
      connectTimeoutMs: c.DATABASE_CONNECT_TIMEOUT,
    },
    uploadDir: path.resolve(c.UPLOAD_DIR),
    maxUploadBytes: c.MAX_UPLOAD_BYTES,
    blobStore:
      c.BLOB_STORE === 'local'
        ? { kind: 'local' as const }
        : {
            kind: 's3' as const,
            bucket: c.S3_BUCKET,
            region: c.S3_REGION,
            endpoint: c.S3_ENDPOINT || null,
            accessKeyId: c.S3_ACCESS_KEY_ID || null,
            secretAccessKey: c.S3_SECRET_ACCESS_KEY || null,
            forcePathStyle: c.S3_FORCE_PATH_STYLE ?? Boolean(c.S3_ENDPOINT),
            prefix: c.S3_PREFIX,
          },
    messageTtlMs: c.MESSAGE_TTL,
    sweepIntervalMs: c.SWEEP_INTERVAL,
    orphanGraceMs: c.ORPHAN_GRACE,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT,
    trustProxy: c.TRUST_PROXY,
    rateLimits: {
      store: rateLimitStore,
      redisUrl: c.REDIS_URL || null,
      registerPerIp: c.RATE_LIMIT_REGISTER_PER_IP,
      sendPerUser: c.RATE_LIMIT_SEND_PER_USER,
      sendPerIp: c.RATE_LIMIT_SEND_PER_IP,
    },
    metricsToken: c.METRICS_TOKEN || null,
    push: {
      provider: c.PUSH_PROVIDER,
      ttlMs: c.PUSH_TTL_MS,
      batchSize: c.PUSH_BATCH_SIZE,
      pollMs: c.PUSH_POLL_MS,
      batchWindowMs: c.PUSH_BATCH_WINDOW_MS,
      leaseMs: c.PUSH_LEASE_MS,
      probeMs: c.PUSH_PROBE_MS,
      retryBaseMs: c.PUSH_RETRY_BASE_MS,
      retryMaxMs: c.PUSH_RETRY_MAX_MS,
      maxAttempts: c.PUSH_MAX_ATTEMPTS,
      httpTimeoutMs: c.PUSH_HTTP_TIMEOUT_MS,
      getui:
        c.PUSH_PROVIDER === 'getui'
          ? {
              appId: c.GETUI_APP_ID!,
              appKey: c.GETUI_APP_KEY!,
              masterSecret: c.GETUI_MASTER_SECRET!,
              baseUrl: trimSlash(c.GETUI_BASE_URL),
            }
          : null,
      fcm:
        c.PUSH_PROVIDER === 'fcm'
          ? {
              serviceAccountFile: path.resolve(c.FCM_SERVICE_ACCOUNT_FILE!),
              projectId: c.FCM_PROJECT_ID ?? null,
              baseUrl: trimSlash(c.FCM_BASE_URL),
              tokenUrl: c.FCM_TOKEN_URL ?? null,
            }
          : null,
    },
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
