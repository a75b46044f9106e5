import crypto from 'node:crypto';
import os from 'node:os';
import type { PushConfig } from '../config';
import type {
  ClaimedJob,
  DeadCid,
  JobLease,
  JobResult,
  PushJobsRepository,
} from '../db/push-jobs-repository';
import type { Logger } from '../logger';
import { mapLimit } from '../push/map-limit';
import type { PushOutcome, PushProvider, PushRequest } from '../push/push-provider';
import { retryDelay } from './backoff';
import { pushRequest } from './push-request';

export interface PushOutboxDeps {
  jobs: PushJobsRepository;
  provider: PushProvider;
  logger: Logger;
  settings: Pick<
    PushConfig,
    'batchSize' | 'pollMs' | 'batchWindowMs' | 'leaseMs' | 'retryBaseMs' | 'retryMaxMs' | 'maxAttempts'
  >;
  now: () => number;
  random?: () => number;
}

/**
 * This process's worker: host, pid and a random part. The host is cut to 32 characters so that every lease
 * owner made from it (`<id>:<claim number>`, `<id>:h`) fits push_jobs.lease_owner, 64 characters: a
 * Kubernetes pod name can take 63, and PostgreSQL refuses a longer value (every send would fail).
 */
export function workerIdOf(hostname: string, pid: number, random: string): string {
  return `${hostname.slice(0, 32)}:${pid}:${random}`;
}

/** Single pushes in flight at once, for providers without a batch call (FCM). */
const SEND_CONCURRENCY = 8;

/**
 * The durable push outbox. sendMessage writes a job in the message's transaction (insertWithPushJob); the worker
 * claims due jobs for a lease, pushes them and records each outcome: sent, pending again after a back-off,
 * failed for good, or skipped. A job whose worker died is claimed again when its lease runs out.
 *
 * runOnce() handles one claim and drain() repeats it until nothing is due: tests await them; the timer
 * loop of start() calls the same drain().
 */
export class PushOutbox {
  private readonly workerId = workerIdOf(os.hostname(), process.pid, crypto.randomBytes(4).toString('hex'));
  /** The owner of the jobs written leased to this outbox (lease()), pushed without a claim. */
  private readonly handOwner = `${this.workerId}:h`;
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
  private readonly random: () => number;

  constructor(private readonly d: PushOutboxDeps) {
    this.random = d.random ?? Math.random;
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
    if (!this.started || this.stopping) return null;
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
        // The jobs handed over, then (as before handing over existed) one claim for what a wake was holding.
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
    if (again) this.schedule(this.d.settings.batchWindowMs, true);
    else this.schedule(this.d.settings.pollMs);
  }

  /**
   * One batch: the jobs handed over in memory, read without a claim, or a claim of the due jobs (retries,
   * jobs written while no loop ran, leases that ran out). A claim runs when nothing is handed over, and
   * else once pollMs has passed since the last one, never twice in a row while jobs wait in memory.
   */
  private async batch(handedOnly = false): Promise<number> {
    const { jobs, settings, now } = this.d;
    const sinceClaim = now() - this.lastClaim;
    const claimDue = sinceClaim >= settings.pollMs || sinceClaim < 0; // < 0: the clock went back
    let owner = this.handOwner;
    let batchIds: number[] = [];
    let claimed: ClaimedJob[];
    if (this.handed.length && (handedOnly || !claimDue || this.claimedLast)) {
      this.claimedLast = false;
      batchIds = this.handed.splice(0, settings.batchSize);
      try {
        // At least a third of the lease left, the heartbeat's period: held until the batch renews it.
        claimed = await jobs.leased(owner, batchIds, now() + Math.ceil(settings.leaseMs / 3));
      } catch (err) {
        this.handed.unshift(...batchIds); // the database failed: the next round tries them again
        throw err;
      }
    } else if (handedOnly) {
      return 0;
    } else {
      this.lastClaim = now();
      this.claimedLast = true;
      owner = `${this.workerId}:${++this.claims}`;
      claimed = await jobs.claim(owner, now(), settings.leaseMs, settings.batchSize);
    }
    if (!claimed.length) return 0;
    // Slow providers must not let the lease run out under a live worker: it is renewed every third of it,
    // and so is that of the handed jobs still waiting in memory (by message id: only those this process
    // still holds).
    const heartbeat = setInterval(
      () => {
        if (owner !== this.handOwner) void this.extendLease(owner);
        const held = [...batchIds, ...this.handed];
        if (held.length) void this.extendLease(this.handOwner, held);
      },
      Math.floor(settings.leaseMs / 3),
    );
    heartbeat.unref();
    try {
      await this.handle(owner, claimed);
    } finally {
      clearInterval(heartbeat);
    }
    return claimed.length;
  }

  private async handle(owner: string, claimed: ClaimedJob[]): Promise<void> {
    const { jobs, now } = this.d;

    const results: JobResult[] = [];
    const toSend: ClaimedJob[] = [];
    for (const job of claimed) {
      if (!job.message.exist) {
        results.push(this.skip(job, 'message deleted before its push'));
      } else if (job.receiver.cidInvalidAt !== null) {
        // No pushes to a dead device until PUT /v1/me/cid; the message stays in the pending list.
        results.push(this.skip(job, "receiver's push id is invalid"));
      } else {
        toSend.push(job);
      }
    }
    const outcomes = await this.deliver(toSend.map(pushRequest));
    const deadCids: DeadCid[] = [];
    toSend.forEach((job, i) => {
      const outcome = outcomes[i];
      if (outcome.kind === 'invalid_target') {
        deadCids.push({ jobId: job.jobId, uid: job.receiver.uid, cid: job.receiver.cid });
      }
      results.push(this.result(job, outcome));
    });

    const lost = await jobs.record(owner, results, deadCids, now());
    if (lost.length) {
      this.d.logger.warn(
        { event: 'push.lease_lost', job_ids: lost },
        'jobs were claimed again by another worker before their outcome was recorded',
      );
    }
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

  /** Pushes through the provider: in batch calls where it has one, else a few at a time. */
  private async deliver(requests: PushRequest[]): Promise<PushOutcome[]> {
    const { provider } = this.d;
    const unexpected = (err: unknown): PushOutcome => ({
      kind: 'retry',
      reason: `provider error: ${err instanceof Error ? err.message : String(err)}`,
    });
    if (provider.sendBatch && requests.length > 1) {
      const size = Math.min(provider.maxBatch ?? requests.length, this.d.settings.batchSize);
      const outcomes: PushOutcome[] = [];
      for (let i = 0; i < requests.length; i += size) {
        const chunk = requests.slice(i, i + size);
        outcomes.push(...(await provider.sendBatch(chunk).catch((err) => chunk.map(() => unexpected(err)))));
      }
      return outcomes;
    }
    return mapLimit(requests, SEND_CONCURRENCY, (r) => provider.send(r).catch(unexpected));
  }

  private result(job: ClaimedJob, outcome: PushOutcome): JobResult {
    const { logger, provider, settings, now } = this.d;
    const base = {
      job_id: job.jobId,
      message_id: job.message.messageId,
      attempt: job.attempt,
      provider: provider.name,
    };
    switch (outcome.kind) {
      case 'sent':
        logger.info({ event: 'push.sent', ...base, task_id: outcome.taskId }, 'push sent');
        return { jobId: job.jobId, state: 'sent', provider: provider.name, taskId: outcome.taskId ?? null };
      case 'retry': {
        if (job.attempt >= settings.maxAttempts) {
          const error = `gave up after ${job.attempt} attempts: ${outcome.reason}`;
          logger.error({ event: 'push.failed', ...base, reason: error }, 'push failed for good');
          return { jobId: job.jobId, state: 'failed', provider: provider.name, error };
        }
        const delay = retryDelay(job.attempt, settings, outcome.retryAfterMs, this.random);
        logger.warn(
          { event: 'push.retry', ...base, reason: outcome.reason, retry_in_ms: delay },
          'push will be retried',
        );
        return {
          jobId: job.jobId,
          state: 'pending',
          provider: provider.name,
          dueAt: now() + delay,
          error: outcome.reason,
        };
      }
      case 'invalid_target': {
        const error = `invalid push id: ${outcome.reason}`;
        logger.warn(
          { event: 'push.invalid_target', ...base, receiver_uid: job.receiver.uid, reason: outcome.reason },
          'receiver push id is invalid',
        );
        return { jobId: job.jobId, state: 'failed', provider: provider.name, error };
      }
      case 'failed':
        logger.error({ event: 'push.failed', ...base, reason: outcome.reason }, 'push failed for good');
        return { jobId: job.jobId, state: 'failed', provider: provider.name, error: outcome.reason };
    }
  }

  private skip(job: ClaimedJob, reason: string): JobResult {
    this.d.logger.info(
      { event: 'push.skipped', job_id: job.jobId, message_id: job.message.messageId, reason },
      'push skipped',
    );
    return { jobId: job.jobId, state: 'skipped', provider: null, error: reason };
  }
}
