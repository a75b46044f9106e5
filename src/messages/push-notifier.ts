import type { Message } from '../db/messages-repository';
import type { User, UsersRepository } from '../db/users-repository';
import type { Logger } from '../logger';
import type { PushProvider } from '../push/push-provider';
import { messagePayload } from './payload';

export interface PushNotifier {
  /** Called once a message is stored: wakes the receiver's app. Never throws. */
  messageStored(message: Message, sender: User): Promise<void>;
}

/**
 * Pushes right after the message is stored. A push that fails is logged and dropped: the receiver's
 * app still finds the message in GET /v1/messages.
 */
export function directPushNotifier(
  users: UsersRepository,
  provider: PushProvider,
  logger: Logger,
): PushNotifier {
  return {
    async messageStored(message, sender) {
      try {
        const receiver = await users.findById(message.receiverUid);
        if (!receiver) return;
        const outcome = await provider.send({
          requestId: `pushpic${message.messageId}`,
          cid: receiver.cid,
          payload: messagePayload(message, sender),
          title: 'New photo',
          body: `${sender.nickname} sent you a photo`,
        });
        if (outcome.kind !== 'sent') {
          logger.warn({ event: 'push.not_sent', message_id: message.messageId, outcome }, 'push not sent');
        }
      } catch (err) {
        logger.error({ event: 'push.error', message_id: message.messageId, err }, 'push failed');
      }
    },
  };
}
