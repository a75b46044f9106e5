import type { PushConfig } from '../config';
import type { ClaimedJob, JobLease, PushJobsRepository } from '../db/push-jobs-repository';
import type { Logger } from '../logger';
import type { PushProvider } from '../push/push-provider';
import { Delivery } from './delivery';
import { newWorker, ownerGone } from './lease-owner';
import { ProviderBreaker, type CallMode, type StateChange } from './provider-breaker';
import { ResultRecorder } from './result-recorder';

export interface PushOutboxDeps {
  jobs: PushJobsRepository;
  provider: PushProvider;
  logger: Logger;
  settings: Pick<
    PushConfig,
    | 'batchSize'
    | 'pollMs'
    | 'batchWindowMs'
    | 'leaseMs'
    | 'retryBaseMs'
    | 'retryMaxMs'
    | 'maxAttempts'
    | 'probeMs'
  >;
  now: () => number;
  random?: () => number;
  /** Hears each change of the provider's state (up, failing, recovering), for /metrics. */
  onProviderState?: (change: StateChange) => void;
}

/**
 * The durable push outbox. sendMessage writes a job in the message's transaction (insertWithPushJob); the worker
 * claims due jobs for a lease, pushes them and records each outcome as it comes: sent, pending again after a
 * back-off, failed for good, or skipped. A job whose worker died is claimed again when its lease runs out, or
 * at once by a worker that starts on the same host and sees that the holder is no longer running.
 *
 * The provider's circuit breaker (provider-breaker.ts) tells an outage from a job's own failure: while the
 * provider is down, jobs are parked and one probe push at a time tests it; its first answer releases every
 * parked job (a database update, so any instance's probe releases every instance's jobs).
 *
 * runOnce() handles one claim and drain() repeats it until nothing is due: tests await them; the timer
 * loop of start() calls the same drain().
 */
export class PushOutbox {
  private readonly worker = newWorker();
  /** The owner of the jobs written leased to this outbox (lease()), pushed without a claim. */
  private readonly handOwner = `${this.worker.id}:h`;
  private readonly breaker: ProviderBreaker;
  private readonly delivery: Delivery;
  /** The leases of dead workers on this host were looked for (once, before the first claim). */
  private tookOver = false;
  /** Message ids of the jobs handed over in memory (hand()) and not yet taken by a batch. */
  private handed: number[] = [];
  /** When the last claim ran (now()): one runs at least every pollMs, handed jobs or not. */
  private lastClaim = 0;
  /** The last batch was a claim: the next serves the handed jobs, if any, whatever the time. */
  private claimedLast = false;
  private claims = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private started = false;
  private stopping = false;
  private woken = false;
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires (performance.now()), and whether a wake set it. */
  private timerDue = 0;
  private timerIsWake = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly d: PushOutboxDeps) {
    this.breaker = new ProviderBreaker(d.settings.probeMs, (change) => this.stateChanged(change));
    this.delivery = new Delivery({ ...d, breaker: this.breaker, random: d.random ?? Math.random });
  }

  /** The provider's state as this process sees it. */
  get providerState() {
    return this.breaker.state;
  }

  /**
   * A job was committed: push it within batchWindowMs rather than at the next poll. Jobs committed during
   * that window go out with it: one claim, one provider call where it takes batches, one record, instead of
   * one of each per message. A wake never puts off a drain already due sooner.
   */
  wake(): void {
    if (!this.started || this.stopping) return;
    if (this.timer) {
      const window = this.d.settings.batchWindowMs;
      if (this.timerDue > performance.now() + window) {
        clearTimeout(this.timer);
        this.schedule(window, true);
      }
    } else {
      this.woken = true; // a drain is running; go round again once it ends
    }
  }

  /**
   * The lease a new job can be written under while the loop runs (null when it does not: the job is then
   * written due, for a claim). The process that commits the job hands it over with hand(), which saves the
   * claim's write transaction. If the process dies first, the job is claimed again once the lease runs out,
   * like any job of a batch in flight.
   */
  lease(): JobLease | null {
    // While the provider is down or limits us, a new job is written due, for a probe or another instance.
    if (!this.started || this.stopping || this.breaker.mode(this.d.now()) !== 'send') return null;
    return { owner: this.handOwner, until: this.d.now() + this.d.settings.leaseMs };
  }

  /** A job written under lease() was committed: it goes out with the next batch, within batchWindowMs. */
  hand(messageId: number): void {
    this.handed.push(messageId);
    if (this.started && !this.stopping) return this.wake();
    // Stopped while the job was being written (possible only with an asynchronous database): push it now.
    this.runOnce(true).catch((err) =>
      this.d.logger.error(
        { event: 'push.worker_error', err },
        'push worker failed; the job goes out once its lease runs out',
      ),
    );
  }

  /**
   * Handles one batch, the jobs handed over or a claim of due ones (see batch()); resolves with how many jobs
   * it handled. One at a time per process.
   */
  runOnce(handedOnly = false): Promise<number> {
    const run = this.chain.then(() => this.batch(handedOnly));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs batches until none is due (or stop() was called); resolves with how many jobs it handled. The
   * loop's own drains stop after a batch smaller than batchSize: that claim took every job due, and a job
   * committed since has woken the loop for another round, so a further claim would find nothing (and cost
   * a write transaction per send).
   */
  async drain(untilPartialBatch = false): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const n = await this.runOnce();
      total += n;
      if (this.handed.length) continue; // the batch was a claim, or there were more than batchSize
      // A probe found the provider back, or the backlog of its outage is still being drained.
      if (n > 0 && this.breaker.state === 'recovering') continue;
      if (n === 0 || (untilPartialBatch && n < this.d.settings.batchSize)) break;
    }
    return total;
  }

  /** Starts the loop: a drain now, then one every pollMs, and one soon after each wake(). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.schedule(0);
  }

  /**
   * Stops the loop; resolves once the batch in flight, if any, has been sent and recorded, and the jobs a
   * wake was holding for its batch window have been claimed and sent too.
   */
  async stop(): Promise<void> {
    const waiting = this.timer !== null && this.timerIsWake;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.loop;
    if (waiting || this.woken || this.handed.length) {
      try {
        // The jobs handed over, then one claim for what a wake was holding back for its batch window.
        while (this.handed.length) await this.runOnce(true);
        if (waiting || this.woken) await this.runOnce();
      } catch (err) {
        this.d.logger.error(
          { event: 'push.worker_error', err },
          'push worker failed while stopping; the jobs go out after the next start',
        );
      }
    }
    await this.chain;
    this.woken = false;
    this.started = false;
  }

  private schedule(ms: number, isWake = false): void {
    this.timerDue = performance.now() + ms;
    this.timerIsWake = isWake;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.loop = this.tick();
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.drain(true);
    } catch (err) {
      this.d.logger.error(
        { event: 'push.worker_error', err },
        'push worker failed; retrying at the next poll',
      );
    }
    if (this.stopping) return;
    const again = this.woken;
    this.woken = false;
    // While the provider is down the next probe may come before the next poll.
    const now = this.d.now();
    const wait = this.breaker.mode(now) === 'wait' ? this.breaker.waitUntil(now) - now : Infinity;
    if (again) this.schedule(this.d.settings.batchWindowMs, true);
    else this.schedule(Math.min(this.d.settings.pollMs, Math.max(10, wait)));
  }

  /**
   * One batch: the jobs handed over in memory, read without a claim, or a claim of the due jobs (retries,
   * jobs written while no loop ran, leases that ran out). A claim runs when nothing is handed over, and
   * else once pollMs has passed since the last one, never twice in a row while jobs wait in memory. While
   * the provider is down, a claim takes one job for the probe, and only when one is due.
   */
  private async batch(handedOnly = false): Promise<number> {
    const { jobs, settings, now, provider } = this.d;
    const mode = this.breaker.mode(now());
    const sinceClaim = now() - this.lastClaim;
    const claimDue = sinceClaim >= settings.pollMs || sinceClaim < 0; // < 0: the clock went back
    let owner = this.handOwner;
    let batchIds: number[] = [];
    let claimed: ClaimedJob[];
    let claim = false;
    if (this.handed.length && (handedOnly || !claimDue || this.claimedLast || mode !== 'send')) {
      this.claimedLast = false;
      batchIds = this.handed.splice(0, settings.batchSize);
      try {
        // At least a third of the lease left, the heartbeat's period: held until the batch renews it.
        claimed = await jobs.leased(owner, batchIds, now() + Math.ceil(settings.leaseMs / 3));
      } catch (err) {
        this.handed.unshift(...batchIds); // the database failed: the next round tries them again
        throw err;
      }
    } else if (handedOnly || mode === 'wait') {
      return 0;
    } else {
      this.lastClaim = now();
      this.claimedLast = true;
      claim = true;
      owner = `${this.worker.id}:${++this.claims}`;
      if (mode === 'probe') {
        claimed = await jobs.claimProbe(owner, now(), settings.leaseMs, provider.name);
      } else {
        await this.takeOverDeadWorkers();
        claimed = await jobs.claim(owner, now(), settings.leaseMs, settings.batchSize);
      }
    }
    if (!claimed.length) {
      if (claim && mode === 'send') this.breaker.caughtUp();
      return 0;
    }
    // Slow providers must not let the lease run out under a live worker: it is renewed every third of it,
    // and so is that of the handed jobs still waiting in memory (by message id: only those this process
    // still holds).
    // A handed job leased() left out (too little lease left) is not renewed: a claim takes it once its lease
    // ends.
    const inBatch = owner === this.handOwner ? claimed.map((job) => job.message.messageId) : [];
    const heartbeat = setInterval(
      () => {
        if (owner !== this.handOwner) void this.extendLease(owner);
        const held = [...inBatch, ...this.handed];
        if (held.length) void this.extendLease(this.handOwner, held);
      },
      Math.floor(settings.leaseMs / 3),
    );
    heartbeat.unref();
    try {
      await this.handle(owner, claimed, mode);
    } finally {
      clearInterval(heartbeat);
    }
    if (claim && mode === 'send' && claimed.length < settings.batchSize) this.breaker.caughtUp();
    return claimed.length;
  }

  /** Pushes a batch (see Delivery), records each outcome as it comes, then releases parked jobs if due. */
  private async handle(owner: string, claimed: ClaimedJob[], mode: CallMode): Promise<void> {
    const { jobs, now, logger } = this.d;
    const recorder = new ResultRecorder(jobs, owner, now, logger);
    await this.delivery.push(claimed, mode, recorder);
    await recorder.done();
    await this.releaseIfDue();
  }

  /** The provider answered again: the jobs parked on its outage are due now, whoever parked them. */
  private async releaseIfDue(): Promise<void> {
    const { jobs, provider, now, logger } = this.d;
    if (!this.breaker.releaseDue(now())) return;
    const released = await jobs.release(provider.name, now());
    this.breaker.released(now());
    if (released) {
      logger.info(
        { event: 'push.released', provider: provider.name, jobs: released },
        'jobs parked on the provider outage are due again',
      );
    }
  }

  /**
   * Before the first claim: a worker on this host that is no longer running (this process before a
   * restart, say) still holds leases; its jobs are taken over at once rather than when the leases end.
   */
  private async takeOverDeadWorkers(): Promise<void> {
    if (this.tookOver) return;
    const { jobs, now, logger } = this.d;
    const gone = (await jobs.leaseOwners(now())).filter((owner) => ownerGone(owner, this.worker));
    const freed = await jobs.endLeases(gone, now());
    this.tookOver = true;
    if (freed) {
      logger.info(
        { event: 'push.leases_taken_over', owners: gone, jobs: freed },
        'took over the jobs of a worker on this host that is no longer running',
      );
    }
  }

  private stateChanged(change: StateChange): void {
    const { logger, provider } = this.d;
    const base = { provider: provider.name, state: change.state };
    if (change.state === 'failing') {
      logger.warn(
        { event: 'push.provider_down', ...base, reason: change.reason },
        'push provider is down: jobs are parked and one probe push tests it',
      );
    } else if (change.state === 'recovering') {
      logger.info(
        { event: 'push.provider_back', ...base, down_ms: change.downMs },
        'push provider answers again: releasing the parked jobs',
      );
    } else {
      logger.info({ event: 'push.provider_up', ...base }, 'push provider is up; the backlog is drained');
    }
    this.d.onProviderState?.(change);
  }

  private async extendLease(owner: string, messageIds?: number[]): Promise<void> {
    const { jobs, now, settings, logger } = this.d;
    try {
      const held = await jobs.extendLease(owner, now() + settings.leaseMs, now(), messageIds);
      logger.debug({ event: 'push.lease_extended', claim: owner, jobs: held }, 'lease extended');
    } catch (err) {
      logger.warn({ event: 'push.lease_extend_failed', err }, 'could not extend the lease');
    }
  }
}
