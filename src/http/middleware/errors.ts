import { AppError, errors } from '../../errors';
import type { Logger } from '../../logger';
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
 * body parser's own errors never get here: its onError (./json-body.ts) maps them.
 */
function clientError(err: unknown): AppError | null {
  const e = err as { status?: number; expose?: boolean };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500 || !e.expose) return null;
  return new AppError(e.status, CODES_BY_STATUS[e.status] ?? 'bad_request', (err as Error).message);
}

/** What a request that failed is answered: status, extra headers and the `{ error, message }` body. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { error: string; message: string };
}

/**
 * The one mapping from an error to its answer. AppErrors and Koa's own 4xx errors keep their status;
 * anything else is logged (with the request id, through log) and answered as a bare 500. Koa's routes use
 * it through renderErrors, the send lane (../send-lane.ts) directly.
 */
export function errorReply(err: unknown, log: Logger): ErrorReply {
  const known = err instanceof AppError ? err : clientError(err);
  if (known) {
    return {
      status: known.status,
      headers: known.headers,
      body: { error: known.code, message: known.message },
    };
  }
  log.error({ event: 'http.unhandled_error', err }, 'unhandled error');
  return {
    status: 500,
    headers: {},
    body: { error: 'internal_error', message: 'Something went wrong on our side; it has been logged.' },
  };
}

/** Koa's error renderer: every error thrown by a route or middleware becomes its errorReply. */
export const renderErrors: AppMiddleware = async (ctx, next) => {
  try {
    await next();
    if (ctx.body === undefined && ctx.status === 404) throw errors.notFound();
    // The router's answer for a path that exists without this method. An unknown method (the router's
    // 501) is answered the same way: the client can do nothing else about either.
    if (ctx.body === undefined && (ctx.status === 405 || ctx.status === 501)) {
      // The router answers a method it has no route for with 501 on any path, known or not.
      const allow = ctx.response.get('Allow');
      if (!allow) throw errors.notFound();
      throw errors.methodNotAllowed(allow);
    }
  } catch (err) {
    const reply = errorReply(err, ctx.state.log);
    ctx.status = reply.status;
    ctx.set(reply.headers);
    ctx.body = reply.body;
  }
};
