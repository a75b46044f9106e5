import crypto from 'node:crypto';
import { requestScope, type Logger } from '../../logger';
import type { AppMiddleware } from '../context';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each request an id (the client's X-Request-Id if sane) that every log line written while serving it
 * carries, and writes one access log line when it ends.
 */
export function requestContext(logger: Logger): AppMiddleware {
  return (ctx, next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get('x-request-id');
    const requestId = CLIENT_REQUEST_ID.test(given) ? given : crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.receivedAt = Date.now();
    ctx.state.log = logger;
    ctx.set('X-Request-Id', requestId);
    return requestScope.run({ req_id: requestId }, async () => {
      try {
        await next();
      } finally {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // The path only: query strings may carry credentials.
        logger.info(
          {
            event: 'http.request',
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(ms * 10) / 10,
          },
          'request',
        );
      }
    });
  };
}
