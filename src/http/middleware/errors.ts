import { AppError } from '../../errors';
import type { AppMiddleware } from '../context';

const CODES_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  411: 'length_required',
  413: 'payload_too_large',
  415: 'unsupported_content_type',
};

/** Lets through an error thrown by Koa or its parsers that is meant for the client (a 4xx with expose). */
function clientError(err: unknown): AppError | null {
  const e = err as { status?: number; expose?: boolean; type?: string };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500 || !e.expose) return null;
  if (e.status === 400 && /json/i.test(String((err as Error).message))) {
    return new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
  if (e.status === 413) return new AppError(413, 'payload_too_large', 'The request body is too large.');
  return new AppError(e.status, CODES_BY_STATUS[e.status] ?? 'bad_request', (err as Error).message);
}

/**
 * The one error renderer: every error becomes `{ error, message }`. AppErrors and Koa's own 4xx errors keep
 * their status; anything else is logged with the request id and answered as a bare 500.
 */
export const renderErrors: AppMiddleware = async (ctx, next) => {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined)
      throw new AppError(404, 'not_found', 'There is no such route.');
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
