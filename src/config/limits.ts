import { z } from 'zod';
import { rateLimit, section } from './values';

export const limits = section({
  settings: {
    RATE_LIMIT_STORE: z.enum(['auto', 'memory', 'database', 'redis']).default('auto'),
    REDIS_URL: z.string().default(''),
    RATE_LIMIT_REGISTER_PER_IP: rateLimit.prefault('20/1h'),
    RATE_LIMIT_SEND_PER_USER: rateLimit.prefault('120/1m'),
    RATE_LIMIT_SEND_PER_IP: rateLimit.prefault('600/1m'),
  },
  build: (s, all) => ({
    rateLimits: {
      // auto: where every instance sees the counts, Redis, else PostgreSQL; memory for one SQLite process.
      store:
        s.RATE_LIMIT_STORE !== 'auto'
          ? s.RATE_LIMIT_STORE
          : s.REDIS_URL
            ? ('redis' as const)
            : all.DATABASE_URL
              ? ('database' as const)
              : ('memory' as const),
      redisUrl: s.REDIS_URL || null,
      registerPerIp: s.RATE_LIMIT_REGISTER_PER_IP,
      sendPerUser: s.RATE_LIMIT_SEND_PER_USER,
      sendPerIp: s.RATE_LIMIT_SEND_PER_IP,
    },
  }),
  problems: (raw) =>
    raw.RATE_LIMIT_STORE === 'redis' && !raw.REDIS_URL
      ? ['REDIS_URL: required when RATE_LIMIT_STORE=redis']
      : [],
});
