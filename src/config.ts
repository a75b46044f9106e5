import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);

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
  PUSH_PROVIDER: z.enum(['mock', 'getui', 'fcm']).default('mock'),
  /** Offline retention asked of the provider (GeTui settings.ttl, FCM android.ttl), at most GeTui's 3 days. */
  PUSH_TTL_MS: int(0).max(259_200_000).default(86_400_000),
  PUSH_BATCH_SIZE: int(1).max(200).default(200),
  PUSH_POLL_MS: int(10).default(1000),
  PUSH_LEASE_MS: int(1000).default(60_000),
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
  readonly push: PushConfig;
  readonly logLevel: RawConfig['LOG_LEVEL'];
  readonly list: { readonly defaultLimit: number; readonly maxLimit: number };
}

export interface PushConfig {
  readonly provider: RawConfig['PUSH_PROVIDER'];
  readonly ttlMs: number;
  readonly batchSize: number;
  readonly pollMs: number;
  readonly leaseMs: number;
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
    throw new ConfigError([
      ...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ...missingProviderSettings(present),
    ]);
  }
  const c = parsed.data;
  const problems: string[] = missingProviderSettings(present);
  if (c.PUSH_RETRY_BASE_MS > c.PUSH_RETRY_MAX_MS)
    problems.push('PUSH_RETRY_BASE_MS: must not exceed PUSH_RETRY_MAX_MS');
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
    push: {
      provider: c.PUSH_PROVIDER,
      ttlMs: c.PUSH_TTL_MS,
      batchSize: c.PUSH_BATCH_SIZE,
      pollMs: c.PUSH_POLL_MS,
      leaseMs: c.PUSH_LEASE_MS,
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
  });
}
