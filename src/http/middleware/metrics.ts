import type { Metrics } from '../../observability/metrics';
import type { AppMiddleware } from '../context';

/** Counts and times one answered request by its route pattern (never the raw path, which carries keys). */
export function countRequest(
  metrics: Metrics,
  method: string,
  route: string,
  status: number,
  startedAt: bigint,
): void {
  const labels = { method, route, status: String(status) };
  metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - startedAt) / 1e9);
  metrics.httpRequests.inc(labels);
}

/** Counts and times every request by its route pattern. */
export function recordMetrics(metrics: Metrics): AppMiddleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      countRequest(metrics, ctx.method, route, ctx.status, started);
    }
  };
}
