import { errors } from '../errors';
import type { Message, MessagesRepository, PendingMessage } from '../db/messages-repository';
import type { User } from '../db/users-repository';
import type { Logger } from '../logger';
import type { BlobStore, StoredBlob } from '../storage/blob-store';
import { MESSAGE_KEY } from './message-key';

export interface Download extends StoredBlob {
  message: Message;
}

/** What a receiver can do with the messages addressed to it: list, download, delete. */
export function messagesService(
  messages: MessagesRepository,
  blobs: BlobStore,
  logger: Logger,
  now: () => number,
) {
  /** The caller's message by key. Anyone else's message answers exactly like a key that does not exist. */
  async function own(caller: User, messageKey: string): Promise<Message> {
    const message = MESSAGE_KEY.test(messageKey) ? await messages.findByKey(messageKey) : undefined;
    if (!message || message.receiverUid !== caller.uid) throw errors.messageNotFound();
    return message;
  }

  return {
    listPending(caller: User, afterId: number, limit: number): Promise<PendingMessage[]> {
      return messages.listPending(caller.uid, afterId, limit);
    },

    async download(caller: User, messageKey: string): Promise<Download> {
      const message = await own(caller, messageKey);
      if (!message.exist) throw errors.gone();
      const blob = await blobs.open(message.messageKey);
      if (!blob) {
        logger.error(
          { event: 'message.file_missing', message_id: message.messageId },
          'stored file is missing',
        );
        throw errors.gone();
      }
      return { ...blob, message };
    },

    /** Deletes the message's file and marks it gone. Deleting again is harmless and answers the same. */
    async delete(caller: User, messageKey: string): Promise<void> {
      const message = await own(caller, messageKey);
      // Row first: a crash between the two leaves a file without a live row, which the sweeper removes.
      if (message.exist) await messages.markDeleted(message.messageId, now());
      await blobs.delete(message.messageKey);
    },
  };
}
