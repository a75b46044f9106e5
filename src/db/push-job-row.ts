/**
 * The shape of a push job's row that the messages repository writes in a message's transaction and the
 * push-jobs repository reads: kept apart from both, so that neither imports the other.
 */

/**
 * pending: waits until due_at; sending: claimed, due_at is the end of its lease (then it is due again);
 * sent, failed, skipped: finished. A pending job can also be parked (parked_at set): it waits for its
 * provider to come back from an outage, and is released (due at once) when any worker sees it answer;
 * its due_at is then only the fallback of its own back-off.
 */
export type PushJobState = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped';
export const PUSH_JOB_STATES: PushJobState[] = ['pending', 'sending', 'sent', 'failed', 'skipped'];

/** The lease a new job can be written under: its first attempt, already claimed by `owner` until `until`. */
export interface JobLease {
  owner: string;
  until: number;
}

/**
 * A new message's push job (messages-repository's insertWithPushJob writes it with the message): due now, or
 * already leased to the outbox of the process that wrote it, which is handed the job in memory and pushes it
 * without a claim (PushOutbox.lease).
 */
export function newJobRow(messageId: number, now: number, lease: JobLease | null = null) {
  const state: PushJobState = lease ? 'sending' : 'pending';
  return {
    message_id: messageId,
    state,
    due_at: lease ? lease.until : now,
    attempts: lease ? 1 : 0,
    lease_owner: lease ? lease.owner : null,
    created_at: now,
    updated_at: now,
  };
}
