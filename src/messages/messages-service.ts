import { errors } from '../errors';
import type { Message, MessagesRepository, PendingMessage } from '../db/messages-repository';
import type { User } from '../db/users-repository';
import type { Logger } from '../logger';
import type { BlobStore, StoredBlob } from '../storage/blob-store';
import { MESSAGE_KEY } from './message-key';

export interface Download extends StoredBlob {
  message: Message;
}

export interface PendingPage {
  messages: PendingMessage[];
  /** The after of the next page; null on the last page. */
  nextAfter: number | null;
}

export interface MessagesServiceDeps {
  messages: MessagesRepository;
  blobs: BlobStore;
  logger: Logger;
  now: () => number;
  /** Messages not downloaded within this many ms are expired. */
  ttlMs: number;
}

/** What a receiver can do with the messages addressed to it: list, download, delete. */
export function messagesService({ messages, blobs, logger, now, ttlMs }: MessagesServiceDeps) {
  /** The caller's message by key. Anyone else's message answers exactly like a key that does not exist. */
  async function own(caller: User, messageKey: string): Promise<Message> {
    const message = MESSAGE_KEY.test(messageKey) ? await messages.findByKey(messageKey) : undefined;
    if (!message || message.receiverUid !== caller.uid) throw errors.messageNotFound();
    return message;
  }

  const pastTtl = (message: Message) => message.sendTime < now() - ttlMs;

  return {
    /**
     * A page of the caller's pending messages, oldest first, and the cursor of the next page: null when
     * there is none (one row more than the page is read to know).
     */
    async listPending(caller: User, afterId: number, limit: number): Promise<PendingPage> {
      // Messages past their TTL are left out even before the sweeper has expired them.
      const rows = await messages.listPending(caller.uid, afterId, limit + 1, now() - ttlMs);
      const page = rows.slice(0, limit);
      return { messages: page, nextAfter: rows.length > limit ? page[page.length - 1].messageId : null };
    },

    /** log: the request's logger (its lines carry the request id). */
    async download(caller: User, messageKey: string, log: Logger = logger): Promise<Download> {
      const message = await own(caller, messageKey);
      if (message.expiredAt !== null || (message.exist && pastTtl(message))) throw errors.expired();
      if (message.lostAt !== null) throw errors.photoLost();
      if (!message.exist) throw errors.gone();
      const blob = await blobs.open(message.messageKey, message.size);
      if (!blob) {
        // Sends store the file before the row and deletes drop the row before the file, so no crash leaves
        // a live row without its file; only damage outside pushpic does. Stop listing it.
        log.error({ event: 'message.file_missing', message_id: message.messageId }, 'stored file is missing');
        await messages.markLost(message.messageId, now());
        throw errors.photoLost();
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
