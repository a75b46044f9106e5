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
import type { Metrics } from '../observability/metrics';

/**
 * Counts one request against a key; throws 429 too_many_requests with Retry-After when over the limit. log:
 * the request's logger, for a failing store.
 */
export interface Limiter {
  consume(key: string, log?: Logger): Promise<void>;
}

/** Where limits are counted now: `degraded` while the shared store fails and each instance counts alone. */
export interface LimitsHealth {
  store: 'memory' | 'database' | 'redis';
  state: 'ok' | 'degraded';
}

export interface Limiters {
  registerPerIp: Limiter | null;
  sendPerUser: Limiter | null;
  sendPerIp: Limiter | null;
  /** Waits (up to timeoutMs) for the shared store's connection, so the first requests are counted there. */
  ready(timeoutMs?: number): Promise<void>;
  health(): LimitsHealth;
  close(): Promise<void>;
}

/** After a store error, limits count as degraded for this long unless the store answers again. */
const DEGRADED_MS = 30_000;
/** A failing store is logged at most this often per limiter (every request meets the failure). */
const LOG_EVERY_MS = 10_000;

/**
 * Per-IP and per-user limits, counted where every instance sees them: in PostgreSQL when pushpic runs on
 * it, in Redis when REDIS_URL is set, in memory for a single SQLite instance. When the shared store fails
 * (Redis unreachable, the database refusing), each instance counts in memory on its own until it answers
 * again, so a limit then holds per instance, not across them: the store error is counted in metrics
 * (pushpic_rate_limit_store_errors_total), logged, and /readyz says `degraded`.
 */
export function createLimiters(config: Config, db: Db, logger: Logger, metrics?: Metrics): Limiters {
  const { store, redisUrl } = config.rateLimits;
  const redis =
    store === 'redis' && redisUrl
      ? new Redis(redisUrl, { enableOfflineQueue: false, lazyConnect: false })
      : null;
  redis?.on('error', (err) => logger.debug({ event: 'rate_limit.redis_error', err }, 'redis error'));
  let lastStoreError = -Infinity;

  const make = (name: string, limit: RateLimit | null): Limiter | null => {
    if (!limit) return null;
    const opts = {
      keyPrefix: `pushpic_${name}`,
      points: limit.points,
      duration: Math.max(1, Math.round(limit.durationMs / 1000)),
    };
    const memory = new RateLimiterMemory(opts);
    let shared: RateLimiterAbstract | null = null;
    if (store === 'redis' && redis) {
      shared = new RateLimiterRedis({ ...opts, storeClient: redis });
    } else if (store === 'database' && config.database.url) {
      shared = new RateLimiterPostgres({
        ...opts,
        storeClient: db,
        storeType: 'knex',
        tableName: 'rate_limits',
        tableCreated: true, // by migrations/20261121003100_create_rate_limits.ts
        clearExpiredByTimeout: false, // the sweeper's job would race other instances for nothing
      });
    }
    let loggedAt = -Infinity;
    const overLimit = (rejection: unknown) => {
      if (rejection instanceof RateLimiterRes) {
        throw errors.tooManyRequests(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      }
    };
    return {
      async consume(key, log = logger) {
        if (shared) {
          try {
            await shared.consume(key);
            return;
          } catch (rejection) {
            overLimit(rejection);
            const now = performance.now();
            lastStoreError = now;
            metrics?.rateLimitStoreErrors.inc({ limiter: name });
            if (now - loggedAt > LOG_EVERY_MS) {
              loggedAt = now;
              log.warn(
                { event: 'rate_limit.store_error', limiter: name, store, err: rejection },
                'rate limit store failed; counting in this instance only',
              );
            }
          }
        }
        await memory.consume(key).catch(overLimit);
      },
    };
  };

  return {
    registerPerIp: make('register_ip', config.rateLimits.registerPerIp),
    sendPerUser: make('send_user', config.rateLimits.sendPerUser),
    sendPerIp: make('send_ip', config.rateLimits.sendPerIp),
    async ready(timeoutMs = 5000) {
      if (!redis || redis.status === 'ready') return;
      // Until the connection is up, commands fail at once and every instance would count on its own.
      // A refused connection is an answer too: no need to wait out the timeout (ioredis keeps retrying).
      const connected = await new Promise<boolean>((resolve) => {
        const done = (up: boolean) => {
          clearTimeout(timer);
          redis.off('ready', onReady).off('error', onError);
          resolve(up);
        };
        const onReady = () => done(true);
        const onError = () => done(false);
        const timer = setTimeout(onError, timeoutMs);
        redis.once('ready', onReady).once('error', onError);
      });
      if (!connected) {
        logger.warn(
          { event: 'rate_limit.redis_not_ready', timeout_ms: timeoutMs },
          'redis is not reachable yet; counting in memory until it is',
        );
      }
    },
    health() {
      const failing =
        (redis !== null && redis.status !== 'ready') || performance.now() - lastStoreError < DEGRADED_MS;
      return { store, state: failing ? 'degraded' : 'ok' };
    },
    async close() {
      redis?.disconnect();
    },
  };
}
