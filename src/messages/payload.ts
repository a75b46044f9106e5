import type { Message } from '../db/messages-repository';
import type { MessagePayload } from '../push/push-provider';

/** The push payload of the original protocol: what a push carries and what the pending list shows, field for field. */
export function messagePayload(
  message: Message,
  sender: { regionNum: string; phoneHash: string },
): MessagePayload {
  return {
    sender_region: sender.regionNum,
    sender_phone: sender.phoneHash,
    sender_uid: message.senderUid,
    message_id: message.messageId,
    message_key: message.messageKey,
    send_time: message.sendTime,
    filetype: message.filetype,
    size: message.size,
    width: message.width,
    height: message.height,
    blurhash: message.blurhash,
  };
}
