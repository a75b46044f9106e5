import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { AppError, errors } from '../errors';
import type { Services } from '../services';
import type { AppMiddleware, AppState } from './context';
import { renderErrors } from './middleware/errors';
import { recordMetrics } from './middleware/metrics';
import { requestContext } from './middleware/request-context';
import { healthRoutes } from './routes/health';
import { messageRoutes } from './routes/messages';
import { userRoutes } from './routes/users';

/** Bodies are JSON, except the photo upload, which is multipart. */
const jsonOrMultipartOnly: AppMiddleware = async (ctx, next) => {
  const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
  if (hasBody && !ctx.is('application/json', 'multipart/form-data')) {
    throw errors.unsupportedContentType('application/json');
  }
  await next();
};

/** Every router the app mounts (the OpenAPI test walks them). */
export function routers(services: Services) {
  return [healthRoutes(services), userRoutes(services), messageRoutes(services)];
}

export function createApp(services: Services): Koa<AppState> {
  const app = new Koa<AppState>();
  app.silent = true; // the error renderer logs; Koa's default stderr printing would bypass redaction
  app.proxy = services.config.trustProxy; // ctx.ip from X-Forwarded-For only behind a trusted proxy

  app.use(requestContext(services.logger));
  app.use(recordMetrics(services.metrics));
  app.use(renderErrors);
  app.use(jsonOrMultipartOnly);
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: '64kb',
      encoding: 'utf-8',
      onError(err) {
        const status = (err as { status?: number }).status;
        if (status === 413)
          throw new AppError(413, 'payload_too_large', 'The JSON body is larger than 64 KB.');
        if (status === 415) throw errors.unsupportedContentType('application/json in UTF-8, uncompressed');
        throw errors.invalidJson();
      },
    }),
  );

  for (const router of routers(services)) {
    app.use(router.routes());
    app.use(
      router.allowedMethods({
        throw: true,
        methodNotAllowed: () => errors.methodNotAllowed(),
        notImplemented: () => errors.methodNotAllowed(),
      }),
    );
  }
  return app;
}
