import type { DeadCid, JobResult, PushJobsRepository } from '../db/push-jobs-repository';
import type { Logger } from '../logger';

/**
 * Records the outcomes of one batch as they come, rather than once the whole batch is done: a process
 * that dies mid-batch leaves fewer pushes the provider accepted with their jobs still leased (each of
 * those is pushed again once the lease is taken over). Outcomes that arrive in the same turn of the event
 * loop (one provider call's, or a fast provider's) share one write; one write is in flight at a time.
 */
export class ResultRecorder {
  private waiting: { result: JobResult; dead?: DeadCid }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private error: unknown = null;

  constructor(
    private readonly jobs: PushJobsRepository,
    private readonly owner: string,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  add(result: JobResult, dead?: DeadCid): void {
    this.waiting.push({ result, dead });
    if (this.scheduled) return;
    this.scheduled = true;
    this.chain = this.chain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.flush());
  }

  /** Resolves once every outcome added is recorded; rejects with the first write that failed. */
  async done(): Promise<void> {
    await this.chain;
    await this.flush();
    if (this.error) throw this.error;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.waiting.splice(0);
    if (!batch.length) return;
    try {
      const dead = batch.flatMap((b) => (b.dead ? [b.dead] : []));
      const lost = await this.jobs.record(
        this.owner,
        batch.map((b) => b.result),
        dead,
        this.now(),
      );
      this.logger.debug(
        { event: 'push.recorded', claim: this.owner, jobs: batch.length },
        'outcomes recorded',
      );
      if (lost.length) {
        this.logger.warn(
          { event: 'push.lease_lost', job_ids: lost },
          'jobs were claimed again by another worker before their outcome was recorded',
        );
      }
    } catch (err) {
      this.error ??= err; // the jobs stay leased: once the lease is over they are pushed again
    }
  }
}
