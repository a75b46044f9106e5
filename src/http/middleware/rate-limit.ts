import type { IncomingMessage } from 'node:http';
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

/**
 * The client's address: the first X-Forwarded-For entry when TRUST_PROXY says a proxy sets it, else the
 * peer's, as Koa's ctx.ip has it. The send lane, which runs without Koa, keys its limit with it too.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const first = typeof forwarded === 'string' ? forwarded.split(',', 1)[0].trim() : '';
  return first || req.socket.remoteAddress || '';
}

export const byIp = (ctx: AppContext) => clientIp(ctx.req, ctx.app.proxy);
export const byUser = (ctx: AppContext) => (ctx.state.user ? String(ctx.state.user.uid) : null);
