import crypto from 'node:crypto';
import type Router from '@koa/router';
import { AppError } from '../../errors';
import type { Services } from '../../services';
import type { AppState } from '../context';
import { openApiDocument } from '../openapi';

/** Adds these routes to the app's router. */
export function healthRoutes(router: Router<AppState>, services: Services): void {
  /** Liveness: the process serves and its database answers. */
  router.get('/healthz', async (ctx) => {
    try {
      await services.db.raw('select 1');
      ctx.body = { status: 'ok' };
    } catch (err) {
      ctx.state.log.warn({ event: 'health.db_down', err }, 'database does not answer');
      throw new AppError(503, 'database_unavailable', 'The database does not answer.');
    }
  });

  /**
   * Readiness: the database answers and the blob store takes writes. Rate limits counted alone because
   * their shared store fails are `degraded`: the instance still serves (200), but a limit holds per instance.
   */
  router.get('/readyz', async (ctx) => {
    const limits = services.limiters.health();
    const checks: Record<string, 'ok' | 'failing' | 'degraded'> = {
      database: 'ok',
      blob_store: 'ok',
      rate_limits: limits.state,
    };
    await services.db.raw('select 1').catch((err) => {
      checks.database = 'failing';
      ctx.state.log.warn({ event: 'ready.db_down', err }, 'database does not answer');
    });
    await services.blobs.checkWritable().catch((err) => {
      checks.blob_store = 'failing';
      ctx.state.log.warn({ event: 'ready.blob_store_down', err }, 'blob store does not take writes');
    });
    const ready = checks.database === 'ok' && checks.blob_store === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = ready
      ? { status: limits.state === 'ok' ? 'ready' : 'degraded', checks }
      : { error: 'not_ready', message: 'A dependency is failing.', checks };
  });

  const openApi = openApiDocument(services.config);
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApi;
  });

  router.get('/metrics', async (ctx) => {
    const token = services.config.metricsToken;
    if (token) {
      const given = Buffer.from(ctx.get('authorization'));
      const expected = Buffer.from(`Bearer ${token}`);
      if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
        throw new AppError(401, 'unauthorized', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.');
      }
    }
    ctx.type = services.metrics.registry.contentType;
    ctx.body = await services.metrics.registry.metrics();
  });
}
