import Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config, RateLimit } from '../config';
import type { Db } from '../db/knex';
import { errors } from '../errors';
import type { Logger } from '../logger';

/**
 * Counts one request against a key; throws 429 too_many_requests with Retry-After when over the limit. log:
 * the request's logger, for a failing store.
 */
export interface Limiter {
  consume(key: string, log?: Logger): Promise<void>;
}

export interface Limiters {
  registerPerIp: Limiter | null;
  sendPerUser: Limiter | null;
  sendPerIp: Limiter | null;
  /** Waits (up to timeoutMs) for the shared store's connection, so the first requests are counted there. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function wrap(limiter: RateLimiterAbstract, name: string, logger: Logger): Limiter {
  return {
    async consume(key, log = logger) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          throw errors.tooManyRequests(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
        }
        // The shared store failed and so did its in-memory insurance: let the request through.
        log.warn(
          { event: 'rate_limit.store_error', limiter: name, err: rejection },
          'rate limit store error',
        );
      }
    },
  };
}

/**
 * Per-IP and per-user limits, counted where every instance sees them: in PostgreSQL when pushpic runs on
 * it, in Redis when REDIS_URL is set, in memory for a single SQLite instance. If the shared store fails,
 * each instance falls back to counting in memory (rate-limiter-flexible's insurance limiter).
 */
export function createLimiters(config: Config, db: Db, logger: Logger): Limiters {
  const { store, redisUrl } = config.rateLimits;
  const redis =
    store === 'redis' && redisUrl
      ? new Redis(redisUrl, { enableOfflineQueue: false, lazyConnect: false })
      : null;
  redis?.on('error', (err) => logger.warn({ event: 'rate_limit.redis_error', err }, 'redis error'));

  const make = (name: string, limit: RateLimit | null): Limiter | null => {
    if (!limit) return null;
    const opts = {
      keyPrefix: `pushpic_${name}`,
      points: limit.points,
      duration: Math.max(1, Math.round(limit.durationMs / 1000)),
    };
    const insurance = new RateLimiterMemory(opts);
    let limiter: RateLimiterAbstract;
    if (store === 'redis' && redis) {
      limiter = new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: insurance });
    } else if (store === 'database' && config.database.url) {
      limiter = new RateLimiterPostgres({
        ...opts,
        storeClient: db,
        storeType: 'knex',
        tableName: 'rate_limits',
        tableCreated: true, // by migrations/20261121003100_create_rate_limits.ts
        clearExpiredByTimeout: false, // the sweeper's job would race other instances for nothing
        insuranceLimiter: insurance,
      });
    } else {
      limiter = insurance;
    }
    return wrap(limiter, name, logger);
  };

  return {
    registerPerIp: make('register_ip', config.rateLimits.registerPerIp),
    sendPerUser: make('send_user', config.rateLimits.sendPerUser),
    sendPerIp: make('send_ip', config.rateLimits.sendPerIp),
    async ready(timeoutMs = 5000) {
      if (!redis || redis.status === 'ready') return;
      // Until the connection is up, commands fail at once and every instance would count on its own.
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) {
        logger.warn(
          { event: 'rate_limit.redis_not_ready', timeout_ms: timeoutMs },
          'redis is not reachable yet; counting in memory until it is',
        );
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}
