import { z } from 'zod';
import { bool, duration, int, section } from './values';

export const server = section({
  settings: {
    NODE_ENV: z.string().default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: int(0).max(65535).default(3000),
    SHUTDOWN_TIMEOUT: duration.prefault('10s'),
    TRUST_PROXY: bool.default(false),
    METRICS_TOKEN: z.string().default(''),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  build: (s) => ({
    env: s.NODE_ENV,
    host: s.HOST,
    port: s.PORT,
    shutdownTimeoutMs: s.SHUTDOWN_TIMEOUT,
    /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
    trustProxy: s.TRUST_PROXY,
    /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
    metricsToken: s.METRICS_TOKEN || null,
    logLevel: s.LOG_LEVEL,
  }),
});
