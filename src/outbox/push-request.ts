import crypto from 'node:crypto';
import type { ClaimedJob } from '../db/push-jobs-repository';
import { messagePayload } from '../messages/payload';
import type { PushRequest } from '../push/push-provider';

/**
 * GeTui's request_id (10 to 32 characters): the same for every attempt of a job, so GeTui drops a
 * repeat of a push it already accepted, e.g. after its answer was lost. Ids too long to spell out
 * (never with 32-bit ids) fall back to a hash of the same text.
 */
export function pushRequestId(messageId: number, jobId: number): string {
  const id = `pushpic-${messageId}-${jobId}`;
  return id.length <= 32 ? id : crypto.createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/** GeTui's notify_id range (docs/push-providers.md). */
const MAX_NOTIFY_ID = 2_147_483_647;

/**
 * The notification id of a message, the same on every push of it: the message id itself (PostgreSQL's
 * ids never pass 2^31 - 1), else a hash of it within the range.
 */
export function notifyIdOf(messageId: number): number {
  if (messageId <= MAX_NOTIFY_ID) return messageId;
  return crypto.createHash('sha256').update(String(messageId)).digest().readUInt32BE(0) & MAX_NOTIFY_ID;
}

/** The push for a claimed job: the original protocol's payload, and a notification naming the sender. */
export function pushRequest(job: ClaimedJob): PushRequest {
  const { messageId } = job.message;
  return {
    requestId: pushRequestId(messageId, job.jobId),
    cid: job.receiver.cid,
    payload: messagePayload(job.message, job.sender),
    title: 'New photo',
    body: `${job.sender.nickname} sent you a photo`,
    notifyId: notifyIdOf(messageId),
  };
}
