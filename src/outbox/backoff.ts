export interface BackoffSettings {
  retryBaseMs: number;
  retryMaxMs: number;
}

/** A provider's Retry-After is honoured up to a day; beyond that it is more likely a bug than a plan. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * How long to wait after failed attempt number `attempt` (1 for the first): exponential from
 * retryBaseMs, capped at retryMaxMs, with equal jitter (half fixed, half random) so that jobs failed
 * together by an outage spread out yet never come back at once; never sooner than the provider's
 * Retry-After.
 */
export function retryDelay(
  attempt: number,
  settings: BackoffSettings,
  retryAfterMs: number | undefined,
  random: () => number,
): number {
  const exponential = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(attempt - 1, 40));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.ceil(Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
}
