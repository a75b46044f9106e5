import { errors } from '../errors';
import { isUniqueViolation } from '../db/knex';
import type { Message, MessagesRepository } from '../db/messages-repository';
import type { User } from '../db/users-repository';
import type { Media, ReceivedImage } from '../images/media';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import type { PushOutbox } from '../outbox/push-outbox';
import { makeMessageKey } from './message-key';

/** A photo fully received into a temporary file (already stripped of its metadata when so configured). */
export interface ReceivedUpload {
  tempPath: string;
  /** Bytes the client sent. */
  size: number;
  /** What the media module learned while the bytes streamed in. */
  image: ReceivedImage;
  /** Set once the file has been moved into the blob store: no temporary file is left to remove. */
  moved?: boolean;
}

export interface SendInput {
  sender: User;
  receiverUid: number;
  clientMsgId: string | null;
  /** The preview the sending app computed, already checked to be a blurhash. */
  blurhash: string | null;
  upload: ReceivedUpload;
  /** When the request arrived (epoch ms): the message's send_time. */
  receivedAt: number;
}

export interface SendResult {
  message: Message;
  /** False when client_msg_id matched an earlier message, which is returned instead. */
  created: boolean;
}

export interface SendMessageDeps {
  messages: MessagesRepository;
  blobs: BlobStore;
  outbox: Pick<PushOutbox, 'wake' | 'lease' | 'hand'>;
  /** The clock the push job is due by (the outbox's). */
  now: () => number;
  media: Media;
  logger: Logger;
}

/**
 * Stores a received photo under a new message_key and records the message together with its push job,
 * in one transaction: a message answered 201 always gets its push. Whatever fails, no stored file is left
 * without its row; the caller owns (and removes) the temporary file.
 */
export function sendMessage(deps: SendMessageDeps) {
  const { messages, blobs, outbox, media, now, logger } = deps;

  async function earlier(sender: User, clientMsgId: string | null): Promise<Message | undefined> {
    return clientMsgId === null ? undefined : messages.findByClientMsgId(sender.uid, clientMsgId);
  }

  async function store(input: SendInput): Promise<SendResult> {
    const { sender, receiverUid, clientMsgId, upload, receivedAt, blurhash } = input;
    const first = await earlier(sender, clientMsgId);
    if (first) return { message: first, created: false };

    // Refuses what is not a sound image (415, 422); reads its displayed size and preview.
    const image = await media.examine(upload.image, upload.tempPath, blurhash);

    const messageKey = makeMessageKey(sender.uid, receiverUid, receivedAt);
    await blobs.putFile(messageKey, upload.tempPath, image.mime);
    upload.moved = true;
    // The job is written leased to this process's outbox, which is handed it below: no claim needed.
    const lease = outbox.lease();
    let message: Message | undefined;
    try {
      message = await messages.insertWithPushJob(
        {
          senderUid: sender.uid,
          receiverUid,
          messageKey,
          sendTime: receivedAt,
          filetype: image.mime,
          size: image.size,
          width: image.width,
          height: image.height,
          blurhash: image.blurhash,
          clientMsgId,
        },
        now(),
        lease,
      );
    } catch (err) {
      await blobs.delete(messageKey);
      // A concurrent request with the same client_msg_id won the insert: answer with its message.
      const winner = isUniqueViolation(err) ? await earlier(sender, clientMsgId) : undefined;
      if (winner) return { message: winner, created: false };
      throw err;
    }
    if (!message) {
      // The client's mistake stays a 404 even if the store fails to remove the file: the sweeper will.
      await blobs
        .delete(messageKey)
        .catch((err: unknown) =>
          logger.warn({ event: 'message.orphan_left', err }, 'could not remove the photo; the sweeper will'),
        );
      throw errors.receiverNotFound();
    }
    if (lease) outbox.hand(message.messageId);
    else outbox.wake();
    return { message, created: true };
  }

  return store;
}
