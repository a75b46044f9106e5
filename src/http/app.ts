import type http from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { Services } from '../services';
import type { AppState } from './context';
import { withDownloadLane } from './download-lane';
import { withSendLane } from './send-lane';
import { renderErrors } from './middleware/errors';
import { recordMetrics } from './middleware/metrics';
import { requestContext } from './middleware/request-context';
import { healthRoutes } from './routes/health';
import { messageRoutes } from './routes/messages';
import { userRoutes } from './routes/users';

/** The app's one router, every route on it (the OpenAPI test walks it). */
export function appRouter(services: Services): Router<AppState> {
  const router = new Router<AppState>();
  messageRoutes(router, services); // the busiest first: a router tries its routes in order
  userRoutes(router, services);
  healthRoutes(router, services);
  return router;
}

export function createApp(services: Services): Koa<AppState> {
  const app = new Koa<AppState>();
  app.silent = true; // the error renderer logs; Koa's default stderr printing would bypass redaction
  app.proxy = services.config.trustProxy; // ctx.ip from X-Forwarded-For only behind a trusted proxy

  app.use(requestContext(services.logger));
  app.use(recordMetrics(services.metrics));
  app.use(renderErrors);
  const router = appRouter(services);
  app.use(router.routes());
  // Sets 405 (501 for a method no route has) with Allow; renderErrors turns it into the error body.
  app.use(router.allowedMethods());
  return app;
}

/**
 * The server's request listener: the send and download lanes (./send-lane.ts, ./download-lane.ts) in front
 * of the Koa app, which answers every request they do not take.
 */
export function requestListener(services: Services): http.RequestListener {
  return withSendLane(services, withDownloadLane(services, createApp(services).callback()));
}
