import type { Limiter } from '../../limits/rate-limiters';
import type { AppContext, AppMiddleware } from '../context';

/**
 * Counts the request against a limiter under the key keyOf returns (no key: not counted here). A request
 * is counted at most once per limiter, so the same middleware can sit at two points of a route.
 */
export function rateLimit(limiter: Limiter | null, keyOf: (ctx: AppContext) => string | null): AppMiddleware {
  const counted = Symbol('rate-limited');
  return async (ctx, next) => {
    const key = limiter ? keyOf(ctx) : null;
    const state = ctx.state as unknown as Record<symbol, boolean>;
    if (limiter && key !== null && !state[counted]) {
      state[counted] = true;
      await limiter.consume(key, ctx.state.log);
    }
    await next();
  };
}

export const byIp = (ctx: AppContext) => ctx.ip;
export const byUser = (ctx: AppContext) => (ctx.state.user ? String(ctx.state.user.uid) : null);
