import type http from 'node:http';
import { requestLogger } from '../logger';
import type { Services } from '../services';
import { errorReply } from './middleware/errors';
import { countRequest } from './middleware/metrics';
import { uploadReader } from './middleware/multipart';
import { clientIp } from './middleware/rate-limit';
import { logRequest, requestIdOf } from './middleware/request-context';
import { replyJson } from './reply';
import { sendPhoto } from './routes/messages';

/** The route the lane serves, as Koa's router labels it in the metrics. */
const ROUTE = '/v1/messages';
const MULTIPART = /^multipart\/form-data\s*;/i;

/**
 * The app's hottest write, a photo sent with its credentials in the headers, served without Koa: Koa's
 * context, router, compose chain and middleware were about a tenth of a send's executed instructions
 * (callgrind: 2.70 million per send through Koa, 2.45 through the lane).
 * The lane takes a POST to /v1/messages with X-Phone-Hash and X-Ukey, a multipart/form-data body and
 * nothing else; anything else (credentials in the query string or the multipart fields, another
 * content type, no body) goes to the Koa app. Once it takes a request it answers it, whatever happens, the
 * way the Koa route does: the same steps in the same order (limit per address, authenticate, limit per
 * user, read the body with the route's reader, sendPhoto), the same answers and errors (errorReply),
 * headers, access log line, metrics and request id.
 */
export function withSendLane(services: Services, app: http.RequestListener): http.RequestListener {
  const { logger, metrics, limiters } = services;
  const reader = uploadReader(services);
  const trustProxy = services.config.trustProxy;

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const receivedAt = Date.now();
    const requestId = requestIdOf(req);
    const log = requestLogger(logger, requestId);
    try {
      await limiters.sendPerIp?.consume(clientIp(req, trustProxy), log);
      const sender = await services.authenticate({
        phoneHash: req.headers['x-phone-hash'] as string,
        ukey: req.headers['x-ukey'] as string,
      });
      await limiters.sendPerUser?.consume(String(sender.uid), log);
      const { fields, upload } = await reader.read(req);
      let sent: Awaited<ReturnType<typeof sendPhoto>>;
      try {
        sent = await sendPhoto(services, sender, fields, { upload, receivedAt });
      } finally {
        await reader.discard(upload); // before answering, as the Koa route does
      }
      replyJson(res, requestId, sent.status, {}, sent.body);
      return sent.status;
    } catch (err) {
      const reply = errorReply(err, log);
      replyJson(res, requestId, reply.status, reply.headers, reply.body);
      return reply.status;
    }
  }

  return (req, res) => {
    const { headers } = req;
    if (
      req.method !== 'POST' ||
      req.url !== ROUTE ||
      !headers['x-phone-hash'] ||
      !headers['x-ukey'] ||
      !MULTIPART.test(headers['content-type'] ?? '') ||
      (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined)
    ) {
      return app(req, res);
    }
    const started = process.hrtime.bigint();
    serve(req, res).then(
      (status) => {
        logRequest(logger, requestIdOf(req), 'POST', ROUTE, status, started);
        countRequest(metrics, 'POST', ROUTE, status, started);
      },
      // The answer itself failed (the client is gone): nothing more can be said to it.
      () => res.destroy(),
    );
  };
}
