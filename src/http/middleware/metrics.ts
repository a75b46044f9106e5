import type { Metrics } from '../../observability/metrics';
import type { AppMiddleware } from '../context';

type RequestSeries = {
  duration: ReturnType<Metrics['httpDuration']['labels']>;
  count: ReturnType<Metrics['httpRequests']['labels']>;
};

/**
 * The two series of each method, route and status, looked up once: prom-client hashes the labels on every
 * observe otherwise. Bounded: routes are patterns (never raw paths) and statuses are few.
 */
const seriesCache = new WeakMap<Metrics, Map<string, RequestSeries>>();

function seriesOf(metrics: Metrics, method: string, route: string, status: number): RequestSeries {
  let byKey = seriesCache.get(metrics);
  if (!byKey) seriesCache.set(metrics, (byKey = new Map()));
  const key = `${method} ${route} ${status}`;
  let series = byKey.get(key);
  if (!series) {
    const labels = { method, route, status: String(status) };
    series = { duration: metrics.httpDuration.labels(labels), count: metrics.httpRequests.labels(labels) };
    byKey.set(key, series);
  }
  return series;
}

/** Counts and times one answered request by its route pattern (never the raw path, which carries keys). */
export function countRequest(
  metrics: Metrics,
  method: string,
  route: string,
  status: number,
  startedAt: bigint,
): void {
  const series = seriesOf(metrics, method, route, status);
  series.duration.observe(Number(process.hrtime.bigint() - startedAt) / 1e9);
  series.count.inc();
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
