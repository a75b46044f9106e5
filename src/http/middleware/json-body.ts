import { bodyParser } from '@koa/bodyparser';
import { AppError, errors } from '../../errors';
import type { AppMiddleware } from '../context';

const parseJson = bodyParser({
  enableTypes: ['json'],
  jsonLimit: '64kb',
  encoding: 'utf-8',
  // Any JSON is parsed here; what is not an object is refused below, with words that are true.
  jsonStrict: false,
  onError(err) {
    const status = (err as { status?: number }).status;
    if (status === 413) throw new AppError(413, 'payload_too_large', 'The JSON body is larger than 64 KB.');
    if (status === 415) throw errors.unsupportedContentType('application/json in UTF-8, uncompressed');
    throw errors.invalidJson();
  },
});

/**
 * The step of a route that takes a JSON body: sets ctx.request.body to the object sent (undefined when the
 * request has no body). A body of another type is 415; valid JSON that is not an object is 422.
 */
export function jsonBody(): AppMiddleware {
  return (ctx, next) => {
    if (!(ctx.request.length > 0 || ctx.get('transfer-encoding') !== '')) return next();
    if (!ctx.is('application/json')) throw errors.unsupportedContentType('application/json');
    return parseJson(ctx, () => {
      const body: unknown = ctx.request.body;
      // Every JSON body of the API is an object: 0, "AAA", null and [] are valid JSON but not a request.
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw errors.invalidRequest('body: must be a JSON object');
      }
      return next();
    });
  };
}
