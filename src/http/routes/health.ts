import Router from '@koa/router';
import type { Services } from '../../services';
import type { AppState } from '../context';

export function healthRoutes(services: Services): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/healthz', async (ctx) => {
    try {
      await services.db.raw('select 1');
      ctx.body = { status: 'ok' };
    } catch (err) {
      ctx.state.log.warn({ event: 'health.db_down', err }, 'database does not answer');
      ctx.status = 503;
      ctx.body = { error: 'database_unavailable', message: 'The database does not answer.' };
    }
  });
  return router;
}
