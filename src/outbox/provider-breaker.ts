import type { PushOutcome } from '../push/push-provider';

/**
 * up: pushes go out as they come. failing: the provider is down (network errors, timeouts, 5xx, GeTui
 * 2/30019, FCM UNAVAILABLE/INTERNAL); jobs are parked, and one probe push at a time tests it, every
 * probeMs (or its Retry-After, when longer). recovering: a probe was answered; the parked jobs are
 * released and drained, until a claim finds fewer due jobs than a batch.
 */
export type ProviderState = 'up' | 'failing' | 'recovering';
export const PROVIDER_STATES: ProviderState[] = ['up', 'failing', 'recovering'];

/** What the outbox may do now: push, push one job as a probe, or no call at all. */
export type CallMode = 'send' | 'probe' | 'wait';

export interface StateChange {
  state: ProviderState;
  /** The outage's first error, when failing. */
  reason?: string;
  /** How long it was failing, when recovering. */
  downMs?: number;
}

/**
 * The circuit breaker of one provider in one process. A rate limit (GeTui 10003/10005, the plan quotas) is
 * not an outage: it pauses every call until its Retry-After, and the breaker's state stays as it was.
 */
export class ProviderBreaker {
  state: ProviderState = 'up';
  /**
   * Bumped each time the provider is found down: an answer to a call made before that (still in flight
   * then) says nothing about whether it is back.
   */
  generation = 0;
  /** The error that opened the breaker. */
  reason = '';
  private since = 0;
  private nextProbeAt = 0;
  private pausedUntil = 0;
  /** -Infinity: a new process releases what a previous one parked, at its first answer. */
  private lastRelease = -Infinity;
  private answeredSinceRelease = false;

  constructor(
    private readonly probeMs: number,
    private readonly onChange: (change: StateChange) => void = () => {},
  ) {}

  mode(now: number): CallMode {
    if (now < this.pausedUntil) return 'wait';
    if (this.state === 'failing') return now >= this.nextProbeAt ? 'probe' : 'wait';
    return 'send';
  }

  /** When a call may be made again, while mode() is 'wait'. */
  waitUntil(now: number): number {
    return Math.max(now, this.pausedUntil, this.state === 'failing' ? this.nextProbeAt : 0);
  }

  /** The end of a rate-limit pause, if one is running. */
  pausedTill(now: number): number | null {
    return now < this.pausedUntil ? this.pausedUntil : null;
  }

  /** A probe is being sent: the next one is due a probe interval later, whether or not it is answered. */
  probing(now: number): void {
    this.nextProbeAt = now + this.probeMs;
  }

  /** The outcome of a call made while the generation was `generation`. */
  observe(outcome: PushOutcome, generation: number, now: number): void {
    const retryAfter = outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0;
    if (outcome.kind === 'retry' && outcome.cause === 'outage') {
      if (this.state !== 'failing') {
        this.generation += 1;
        this.state = 'failing';
        this.reason = outcome.reason;
        this.since = now;
        this.nextProbeAt = now + Math.max(this.probeMs, retryAfter);
        this.answeredSinceRelease = false;
        this.onChange({ state: 'failing', reason: outcome.reason });
      } else if (generation === this.generation) {
        this.nextProbeAt = now + Math.max(this.probeMs, retryAfter); // the probe's answer
      }
      return;
    }
    // The provider answered (a push accepted, refused, or limited).
    if (outcome.kind === 'retry' && outcome.cause === 'rate_limit') {
      this.pausedUntil = Math.max(this.pausedUntil, now + retryAfter);
    }
    if (generation !== this.generation) return;
    this.answeredSinceRelease = true;
    if (this.state === 'failing') {
      this.state = 'recovering';
      this.onChange({ state: 'recovering', downMs: now - this.since });
    }
  }

  /**
   * Whether to release the parked jobs now: the provider has answered since the last release, and it is
   * recovering, or the last release is a probe interval old (jobs another instance, or this process
   * before a restart, parked while this one saw no outage).
   */
  releaseDue(now: number): boolean {
    if (!this.answeredSinceRelease || this.state === 'failing') return false;
    return this.state === 'recovering' || now - this.lastRelease >= this.probeMs;
  }

  released(now: number): void {
    this.lastRelease = now;
    this.answeredSinceRelease = false;
  }

  /** A claim found fewer due jobs than a batch: the backlog of the outage is drained. */
  caughtUp(): void {
    if (this.state !== 'recovering') return;
    this.state = 'up';
    this.onChange({ state: 'up' });
  }
}
