import crypto from 'node:crypto';
import type { NewMessage } from '../../src/db/messages-repository';
import type { PushJob } from '../../src/db/push-jobs-repository';
import { mapLimit } from '../../src/push/map-limit';
import { buildUser, sendPhoto, type TestUser } from './factories';
import { makeImage } from './images';
import type { TestApp } from './test-app';

/** Sends `n` small photos, a few requests at a time; returns their message ids in order. */
export async function sendPhotos(t: TestApp, from: TestUser, to: TestUser[] | TestUser, n: number) {
  const png = await makeImage('png', 8, 8);
  const receivers = Array.isArray(to) ? to : [to];
  const sent = await mapLimit(
    Array.from({ length: n }, (_, i) => receivers[i % receivers.length]),
    8,
    async (receiver) => {
      const res = await sendPhoto(t.api, from, receiver, png);
      if (res.status !== 201) throw new Error(`send answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.message_id as number;
    },
  );
  return sent;
}

export async function jobOf(t: TestApp, messageId: number): Promise<PushJob> {
  const job = await t.services.pushJobs.findByMessageId(messageId);
  if (!job) throw new Error(`no push job for message ${messageId}`);
  return job;
}

export async function jobStates(t: TestApp): Promise<Record<string, number>> {
  const { byState } = await t.services.pushJobs.stats(Date.now());
  return Object.fromEntries(Object.entries(byState).filter(([, n]) => n > 0));
}

/** Moves the clock past every back-off and drains, until no job waits or `rounds` ran out. */
export async function drainThroughRetries(
  t: TestApp,
  advance: (ms: number) => void,
  stepMs: number,
  rounds = 20,
) {
  for (let i = 0; i < rounds; i++) {
    await t.drainPushes();
    const waiting = await t.services
      .db('push_jobs')
      .whereIn('state', ['pending', 'sending'])
      .count({ n: '*' });
    if (Number(waiting[0].n) === 0) return;
    advance(stepMs);
  }
  throw new Error(`jobs still waiting after ${rounds} rounds`);
}

export async function twoUsers(t: TestApp) {
  const alice = await buildUser(t.api, { nickname: 'Alice' });
  const bob = await buildUser(t.api, { nickname: 'Bob' });
  return { alice, bob };
}

/** A message row as sendMessage would store it, for tests that write jobs through the repository. */
export function newMessage(senderUid: number, receiverUid: number, sendTime = Date.now()): NewMessage {
  return {
    senderUid,
    receiverUid,
    messageKey: crypto.randomBytes(32).toString('hex'),
    sendTime,
    filetype: 'image/png',
    size: 1,
    width: 1,
    height: 1,
    blurhash: null,
    clientMsgId: null,
  };
}
