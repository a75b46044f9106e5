import path from 'node:path';
import { z } from 'zod';
import { baseUrl, int, section } from './values';

/** The settings each provider cannot run without. */
const REQUIRED_BY_PROVIDER: Record<string, string[]> = {
  getui: ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET'],
  fcm: ['FCM_SERVICE_ACCOUNT_FILE'],
};

export const push = section({
  settings: {
    PUSH_PROVIDER: z.enum(['mock', 'getui', 'fcm']).default('mock'),
    /** Offline retention asked of the provider (GeTui settings.ttl, FCM android.ttl), at most GeTui's 3 days. */
    PUSH_TTL_MS: int(0).max(259_200_000).default(86_400_000),
    PUSH_BATCH_SIZE: int(1).max(200).default(200),
    PUSH_POLL_MS: int(10).default(1000),
    /** How long the worker waits after a new message for more to claim and send with it. */
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
    GETUI_BASE_URL: baseUrl.default('https://restapi.getui.com/v2'),
    FCM_SERVICE_ACCOUNT_FILE: z.string().optional(),
    /** Defaults to the service account's project_id. */
    FCM_PROJECT_ID: z.string().optional(),
    FCM_BASE_URL: baseUrl.default('https://fcm.googleapis.com/v1'),
    /** Defaults to the service account's token_uri. */
    FCM_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
  },
  build: (s) => ({
    push: {
      provider: s.PUSH_PROVIDER,
      ttlMs: s.PUSH_TTL_MS,
      batchSize: s.PUSH_BATCH_SIZE,
      pollMs: s.PUSH_POLL_MS,
      batchWindowMs: s.PUSH_BATCH_WINDOW_MS,
      leaseMs: s.PUSH_LEASE_MS,
      probeMs: s.PUSH_PROBE_MS,
      retryBaseMs: s.PUSH_RETRY_BASE_MS,
      retryMaxMs: s.PUSH_RETRY_MAX_MS,
      maxAttempts: s.PUSH_MAX_ATTEMPTS,
      httpTimeoutMs: s.PUSH_HTTP_TIMEOUT_MS,
      /** Set when PUSH_PROVIDER=getui. */
      getui:
        s.PUSH_PROVIDER === 'getui'
          ? {
              appId: s.GETUI_APP_ID!,
              appKey: s.GETUI_APP_KEY!,
              masterSecret: s.GETUI_MASTER_SECRET!,
              baseUrl: s.GETUI_BASE_URL,
            }
          : null,
      /** Set when PUSH_PROVIDER=fcm. */
      fcm:
        s.PUSH_PROVIDER === 'fcm'
          ? {
              serviceAccountFile: path.resolve(s.FCM_SERVICE_ACCOUNT_FILE!),
              projectId: s.FCM_PROJECT_ID ?? null,
              baseUrl: s.FCM_BASE_URL,
              tokenUrl: s.FCM_TOKEN_URL ?? null,
            }
          : null,
    },
  }),
  problems: (raw, own) => {
    const problems: string[] = [];
    const provider = raw.PUSH_PROVIDER ?? 'mock';
    const missing = (REQUIRED_BY_PROVIDER[provider] ?? []).filter((name) => !raw[name]);
    if (missing.length) problems.push(`PUSH_PROVIDER=${provider} needs ${missing.join(', ')} (not set)`);
    if (own && own.PUSH_RETRY_BASE_MS > own.PUSH_RETRY_MAX_MS)
      problems.push('PUSH_RETRY_BASE_MS: must not exceed PUSH_RETRY_MAX_MS');
    return problems;
  },
});
