import type { Metrics } from '../../observability/metrics';
import type { AppMiddleware } from '../context';

/** Counts and times every request by its route pattern (never the raw path, which carries keys). */
export function recordMetrics(metrics: Metrics): AppMiddleware {
  return async (ctx, next) => {
    const stop = metrics.httpDuration.startTimer();
    try {
      await next();
    } finally {
      const labels = {
        method: ctx.method,
        route: (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched',
        status: String(ctx.status),
      };
      stop(labels);
      metrics.httpRequests.inc(labels);
    }
  };
}
