import type { Knex } from 'knex';
import type { Db } from './knex';

export interface Message {
  messageId: number;
  senderUid: number;
  receiverUid: number;
  messageKey: string;
  sendTime: number;
  exist: boolean;
  filetype: string;
  size: number;
  /** Displayed size in pixels; null for messages stored before it was recorded. */
  width: number | null;
  height: number | null;
  blurhash: string | null;
  clientMsgId: string | null;
  deletedAt: number | null;
}

/** A pending message with what its receiver needs to know about the sender. */
export interface PendingMessage extends Message {
  senderRegion: string;
  senderPhoneHash: string;
}

interface MessageRow {
  id: number;
  sender_uid: number;
  receiver_uid: number;
  message_key: string;
  send_time: number | string;
  exist: boolean | number;
  filetype: string;
  size: number | string;
  width: number | null;
  height: number | null;
  blurhash: string | null;
  client_msg_id: string | null;
  deleted_at: number | string | null;
}

function toMessage(row: MessageRow): Message {
  return {
    messageId: row.id,
    senderUid: row.sender_uid,
    receiverUid: row.receiver_uid,
    messageKey: row.message_key,
    sendTime: Number(row.send_time),
    exist: Boolean(row.exist),
    filetype: row.filetype,
    size: Number(row.size),
    width: row.width,
    height: row.height,
    blurhash: row.blurhash,
    clientMsgId: row.client_msg_id,
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

export type NewMessage = Omit<Message, 'messageId' | 'exist' | 'deletedAt'>;
export type MessagesRepository = ReturnType<typeof messagesRepository>;

export function messagesRepository(db: Db) {
  const messages = (trx: Knex | Knex.Transaction = db) => trx<MessageRow>('messages');
  return {
    async insert(m: NewMessage, trx?: Knex.Transaction): Promise<Message> {
      const [row] = await messages(trx)
        .insert({
          sender_uid: m.senderUid,
          receiver_uid: m.receiverUid,
          message_key: m.messageKey,
          send_time: m.sendTime,
          exist: true,
          filetype: m.filetype,
          size: m.size,
          width: m.width,
          height: m.height,
          blurhash: m.blurhash,
          client_msg_id: m.clientMsgId,
        })
        .returning('id');
      const messageId = typeof row === 'object' ? row.id : Number(row);
      return { ...m, messageId, exist: true, deletedAt: null };
    },

    async findByKey(messageKey: string): Promise<Message | undefined> {
      const row = await messages().where({ message_key: messageKey }).first();
      return row && toMessage(row);
    },

    async findByClientMsgId(senderUid: number, clientMsgId: string): Promise<Message | undefined> {
      const row = await messages().where({ sender_uid: senderUid, client_msg_id: clientMsgId }).first();
      return row && toMessage(row);
    },

    /** The receiver's messages still stored, oldest first, after a message id. */
    async listPending(receiverUid: number, afterId: number, limit: number): Promise<PendingMessage[]> {
      const rows = await db('messages as m')
        .join('users as s', 's.id', 'm.sender_uid')
        .where('m.receiver_uid', receiverUid)
        .andWhere('m.exist', true)
        .andWhere('m.id', '>', afterId)
        .orderBy('m.id', 'asc')
        .limit(limit)
        .select<(MessageRow & { sender_region: string; sender_phone_hash: string })[]>(
          'm.*',
          's.region_num as sender_region',
          's.phone_hash as sender_phone_hash',
        );
      return rows.map((r) => ({
        ...toMessage(r),
        senderRegion: r.sender_region,
        senderPhoneHash: r.sender_phone_hash,
      }));
    },

    /** Marks a message deleted. Returns false when it already was. */
    async markDeleted(messageId: number, at: number): Promise<boolean> {
      const changed = await messages()
        .where({ id: messageId, exist: true })
        .update({ exist: false, deleted_at: at });
      return changed > 0;
    },
  };
}
