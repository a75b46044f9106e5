import type { Credentials } from '../../users/authenticate';
import type { User } from '../../db/users-repository';
import type { AppContext, AppMiddleware } from '../context';

type Authenticate = (credentials: Credentials | null) => Promise<User>;

function pair(phoneHash: unknown, ukey: unknown): Credentials | null {
  return typeof phoneHash === 'string' && typeof ukey === 'string' ? { phoneHash, ukey } : null;
}

/**
 * Credentials as clients send them: the X-Phone-Hash and X-Ukey headers, or phone_hash and ukey in the
 * query string, a JSON body (PUT /v1/me/cid) or the multipart fields (in that order). A GET or DELETE has
 * no body to carry them.
 */
export function credentialsOf(ctx: AppContext): Credentials | null {
  if (ctx.get('x-phone-hash') || ctx.get('x-ukey')) return pair(ctx.get('x-phone-hash'), ctx.get('x-ukey'));
  if (ctx.query.phone_hash !== undefined || ctx.query.ukey !== undefined) {
    return pair(ctx.query.phone_hash, ctx.query.ukey);
  }
  const body = (ctx.request as { body?: unknown }).body;
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    return pair(b.phone_hash, b.ukey);
  }
  return null;
}

/** Requires a user; 401 `unauthorized` otherwise, the same for an unknown phone and a wrong key. */
export function requireUser(authenticate: Authenticate): AppMiddleware {
  return async (ctx, next) => {
    if (!ctx.state.user) ctx.state.user = await authenticate(credentialsOf(ctx));
    await next();
  };
}

/** Authenticates now if the request carries credentials outside its body (headers or query). */
export function authenticateEarly(authenticate: Authenticate): AppMiddleware {
  return async (ctx, next) => {
    if (ctx.get('x-phone-hash') || ctx.get('x-ukey') || ctx.query.phone_hash !== undefined) {
      ctx.state.user = await authenticate(credentialsOf(ctx));
    }
    await next();
  };
}
