import type { Metrics } from '../observability/metrics';
import type { PushOutcome, PushProvider } from './push-provider';

/** Counts each push outcome by provider and result for /metrics; batches count once per push. */
export function instrumented(provider: PushProvider, metrics: Metrics): PushProvider {
  const count = (outcomes: PushOutcome[]) => {
    for (const o of outcomes) metrics.pushOutcomes.inc({ provider: provider.name, result: o.kind });
  };
  const countErrors = (n: number) =>
    metrics.pushOutcomes.inc({ provider: provider.name, result: 'error' }, n);
  const wrapped: PushProvider = {
    name: provider.name,
    maxBatch: provider.maxBatch,
    async send(request) {
      try {
        const outcome = await provider.send(request);
        count([outcome]);
        return outcome;
      } catch (err) {
        countErrors(1);
        throw err;
      }
    },
  };
  if (provider.sendBatch) {
    const sendBatch = provider.sendBatch.bind(provider);
    wrapped.sendBatch = async (requests, onOutcome) => {
      try {
        const outcomes = await sendBatch(requests, onOutcome);
        count(outcomes);
        return outcomes;
      } catch (err) {
        countErrors(requests.length);
        throw err;
      }
    };
  }
  return wrapped;
}
