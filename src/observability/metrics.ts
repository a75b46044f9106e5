import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/knex';

export type Metrics = ReturnType<typeof createMetrics>;

/** The Prometheus registry served at GET /metrics. One per app instance, so tests do not share counters. */
export function createMetrics(db: Db) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pushpic_' });
  const labelNames = ['method', 'route', 'status'] as const;
  return {
    registry,
    httpRequests: new Counter({
      name: 'pushpic_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'pushpic_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    uploadBytes: new Counter({
      name: 'pushpic_upload_bytes_total',
      help: 'Bytes of photos accepted and stored',
      registers: [registry],
    }),
    rateLimitStoreErrors: new Counter({
      name: 'pushpic_rate_limit_store_errors_total',
      help: 'Requests counted in this instance alone because the shared rate-limit store failed',
      labelNames: ['limiter'] as const,
      registers: [registry],
    }),
    pushOutcomes: new Counter({
      name: 'pushpic_push_outcomes_total',
      help: 'Push attempts by provider and result (sent, retry, invalid_target, failed)',
      labelNames: ['provider', 'result'] as const,
      registers: [registry],
    }),
    pushProviderState: new Gauge({
      name: 'pushpic_push_provider_state',
      help: "The push provider's state as this process sees it: 1 for the current one (up, failing, recovering)",
      labelNames: ['provider', 'state'] as const,
      registers: [registry],
    }),
    outboxDepth: new Gauge({
      name: 'pushpic_outbox_jobs',
      help: 'Push jobs in the outbox by state (pending, sending, sent, failed, skipped)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        const rows: { state: string; n: number | string }[] = await db('push_jobs')
          .select('state')
          .count({ n: '*' })
          .groupBy('state');
        this.reset();
        for (const row of rows) this.set({ state: String(row.state) }, Number(row.n));
      },
    }),
    pendingMessages: new Gauge({
      name: 'pushpic_pending_messages',
      help: 'Messages stored and not yet deleted or expired',
      registers: [registry],
      async collect() {
        const [{ n }] = await db('messages').where('exist', true).count({ n: '*' });
        this.set(Number(n));
      },
    }),
  };
}
