import type { PushConfig } from '../config';
import type { ClaimedJob, JobResult } from '../db/push-jobs-repository';
import type { Logger } from '../logger';
import { mapLimit } from '../push/map-limit';
import type { PushOutcome, PushProvider } from '../push/push-provider';
import { retryDelay } from './backoff';
import type { CallMode, ProviderBreaker } from './provider-breaker';
import { pushRequest } from './push-request';
import type { ResultRecorder } from './result-recorder';

export interface DeliveryDeps {
  provider: PushProvider;
  breaker: ProviderBreaker;
  logger: Logger;
  settings: Pick<PushConfig, 'batchSize' | 'retryBaseMs' | 'retryMaxMs' | 'maxAttempts'>;
  now: () => number;
  random: () => number;
}

/** Single pushes in flight at once, for providers without a batch call (FCM). */
const SEND_CONCURRENCY = 8;

/**
 * Pushes the jobs of one batch through the provider and turns each answer into the job's outcome (sent,
 * pending after a back-off or parked on an outage, failed, skipped), handed to the recorder as it comes.
 * Every answer is shown to the provider's breaker, which decides whether the next call may go.
 */
export class Delivery {
  constructor(private readonly d: DeliveryDeps) {}

  /**
   * Pushes a batch and records each outcome as it comes. With mode 'probe' only the first job is pushed,
   * with 'wait' none: the others are held back without a provider call, parked on the outage (or due at
   * the end of a rate-limit pause).
   */
  async push(claimed: ClaimedJob[], mode: CallMode, recorder: ResultRecorder): Promise<void> {
    const { now, logger } = this.d;
    const toSend: ClaimedJob[] = [];
    for (const job of claimed) {
      if (!job.message.exist) {
        recorder.add(this.skip(job, 'message deleted before its push'));
      } else if (job.receiver.cidInvalidAt !== null) {
        // No pushes to a dead device until PUT /v1/me/cid; the message stays in the pending list.
        recorder.add(this.skip(job, "receiver's push id is invalid"));
      } else {
        toSend.push(job);
      }
    }
    if (mode === 'send') {
      await this.deliver(toSend, recorder);
    } else {
      const probe = mode === 'probe' ? toSend.slice(0, 1) : [];
      for (const job of toSend.slice(probe.length)) recorder.add(this.heldBack(job));
      if (probe.length) {
        this.d.breaker.probing(now());
        logger.info(
          { event: 'push.probe', provider: this.d.provider.name, job_id: probe[0].jobId },
          'probing the provider with one push',
        );
        await this.deliver(probe, recorder, true);
      }
    }
  }

  /**
   * Pushes through the provider: in batch calls where it has one, else a few at a time. Once the provider
   * is found down (or asks us to slow down), the pushes not yet sent are held back; a probe goes anyway.
   */
  private async deliver(batch: ClaimedJob[], recorder: ResultRecorder, probe = false): Promise<void> {
    const { provider, now } = this.d;
    const unexpected = (err: unknown): PushOutcome => ({
      kind: 'retry',
      reason: `provider error: ${err instanceof Error ? err.message : String(err)}`,
      cause: 'job',
    });
    const mayCall = () => probe || this.d.breaker.mode(now()) === 'send';
    const settle = (job: ClaimedJob, outcome: PushOutcome, generation: number) => {
      this.d.breaker.observe(outcome, generation, now());
      const dead =
        outcome.kind === 'invalid_target'
          ? { jobId: job.jobId, uid: job.receiver.uid, cid: job.receiver.cid }
          : undefined;
      recorder.add(this.result(job, outcome), dead);
    };
    if (provider.sendBatch && batch.length > 1) {
      const size = Math.min(provider.maxBatch ?? batch.length, this.d.settings.batchSize);
      for (let i = 0; i < batch.length; i += size) {
        const chunk = batch.slice(i, i + size);
        if (!mayCall()) {
          for (const job of chunk) recorder.add(this.heldBack(job));
          continue;
        }
        const generation = this.d.breaker.generation;
        const settled = new Set<number>();
        const outcomes = await provider
          .sendBatch(chunk.map(pushRequest), (k, outcome) => {
            settled.add(k);
            settle(chunk[k], outcome, generation);
          })
          .catch((err) => chunk.map(() => unexpected(err)));
        outcomes.forEach((outcome, k) => {
          if (!settled.has(k)) settle(chunk[k], outcome, generation);
        });
      }
      return;
    }
    await mapLimit(batch, SEND_CONCURRENCY, async (job) => {
      if (!mayCall()) return recorder.add(this.heldBack(job));
      const generation = this.d.breaker.generation;
      settle(job, await provider.send(pushRequest(job)).catch(unexpected), generation);
    });
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
        // A provider that is down or limits us says nothing about this push: such a call is not counted
        // against PUSH_MAX_ATTEMPTS (else an outage's probes would fail a small backlog for good).
        const providerWide = outcome.cause === 'outage' || outcome.cause === 'rate_limit';
        if (!providerWide && job.attempt >= settings.maxAttempts) {
          const error = `gave up after ${job.attempt} attempts: ${outcome.reason}`;
          logger.error({ event: 'push.failed', ...base, reason: error }, 'push failed for good');
          return { jobId: job.jobId, state: 'failed', provider: provider.name, error };
        }
        // Parked on an outage, the job's own back-off is only a fallback: the provider's first answer
        // releases it.
        const delay = retryDelay(job.attempt, settings, outcome.retryAfterMs, this.d.random);
        const parked = outcome.cause === 'outage';
        logger.warn(
          { event: 'push.retry', ...base, reason: outcome.reason, retry_in_ms: delay, parked },
          'push will be retried',
        );
        return {
          jobId: job.jobId,
          state: 'pending',
          provider: provider.name,
          dueAt: now() + delay,
          error: outcome.reason,
          parked,
          unattempted: providerWide,
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

  /** A job not pushed because the provider is down or limits us: its attempt is not counted. */
  private heldBack(job: ClaimedJob): JobResult {
    const { provider, settings, now } = this.d;
    const pausedTill = this.d.breaker.pausedTill(now());
    if (pausedTill !== null) {
      return {
        jobId: job.jobId,
        state: 'pending',
        provider: provider.name,
        dueAt: pausedTill,
        error: `not sent: ${provider.name} limits our calls`,
        unattempted: true,
      };
    }
    const delay = retryDelay(Math.max(1, job.attempt - 1), settings, undefined, this.d.random);
    return {
      jobId: job.jobId,
      state: 'pending',
      provider: provider.name,
      dueAt: now() + delay,
      error: `not sent: ${provider.name} is down (${this.d.breaker.reason})`,
      parked: true,
      unattempted: true,
    };
  }

  private skip(job: ClaimedJob, reason: string): JobResult {
    this.d.logger.info(
      { event: 'push.skipped', job_id: job.jobId, message_id: job.message.messageId, reason },
      'push skipped',
    );
    return { jobId: job.jobId, state: 'skipped', provider: null, error: reason };
  }
}
