import type { Metrics } from '../observability/metrics';
import type { PushProvider } from './push-provider';

/** Counts each push outcome by provider and result for /metrics. */
export function instrumented(provider: PushProvider, metrics: Metrics): PushProvider {
  return {
    name: provider.name,
    async send(request) {
      try {
        const outcome = await provider.send(request);
        metrics.pushOutcomes.inc({ provider: provider.name, result: outcome.kind });
        return outcome;
      } catch (err) {
        metrics.pushOutcomes.inc({ provider: provider.name, result: 'error' });
        throw err;
      }
    },
  };
}
