import type http from 'node:http';
import crypto from 'node:crypto';
import { requestLogger, type Logger } from '../../logger';
import type { AppMiddleware } from '../context';

/** The X-Request-Id a client may choose; any other is replaced. */
export const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Ids given to requests before they reached Koa (the download lane), which Koa keeps if it answers them. */
const givenIds = new WeakMap<http.IncomingMessage, string>();

/** The request's id: the client's X-Request-Id if sane, else a new one; the same for every call on req. */
export function requestIdOf(req: http.IncomingMessage): string {
  let id = givenIds.get(req);
  if (id === undefined) {
    const sent = req.headers['x-request-id'];
    id = typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
    givenIds.set(req, id);
  }
  return id;
}

/** The one access log line of a request. The path only: query strings may carry credentials. */
export function logRequest(
  logger: Logger,
  requestId: string,
  method: string,
  path: string,
  status: number,
  startedAt: bigint,
): void {
  if (!logger.isLevelEnabled('info')) return;
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  logger.info(
    { req_id: requestId, event: 'http.request', method, path, status, ms: Math.round(ms * 10) / 10 },
    'request',
  );
}

/**
 * Gives each request an id (the client's X-Request-Id if sane) that every log line written while serving it
 * carries, and writes one access log line when it ends.
 */
export function requestContext(logger: Logger): AppMiddleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(ctx.req);
    ctx.state.requestId = requestId;
    ctx.state.receivedAt = Date.now();
    ctx.state.log = requestLogger(logger, requestId);
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      logRequest(logger, requestId, ctx.method, ctx.path, ctx.status, started);
    }
  };
}
