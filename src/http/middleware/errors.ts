import { AppError, errors } from '../../errors';
import type { AppMiddleware } from '../context';

const CODES_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  411: 'length_required',
  413: 'payload_too_large',
  415: 'unsupported_content_type',
};

/**
 * Lets through an error thrown by Koa or a library that is meant for the client (a 4xx with expose). The JSON
 * body parser's own errors never get here: its onError (src/http/app.ts) maps them.
 */
function clientError(err: unknown): AppError | null {
  const e = err as { status?: number; expose?: boolean };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500 || !e.expose) return null;
  return new AppError(e.status, CODES_BY_STATUS[e.status] ?? 'bad_request', (err as Error).message);
}

/**
 * The one error renderer: every error becomes `{ error, message }`. AppErrors and Koa's own 4xx errors keep
 * their status; anything else is logged with the request id and answered as a bare 500.
 */
export const renderErrors: AppMiddleware = async (ctx, next) => {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) throw errors.notFound();
  } catch (err) {
    const known = err instanceof AppError ? err : clientError(err);
    if (known) {
      ctx.status = known.status;
      ctx.set(known.headers);
      ctx.body = { error: known.code, message: known.message };
      return;
    }
    ctx.state.log.error({ event: 'http.unhandled_error', err }, 'unhandled error');
    ctx.status = 500;
    ctx.body = { error: 'internal_error', message: 'Something went wrong on our side; it has been logged.' };
  }
};
