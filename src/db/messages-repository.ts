import type { Knex } from 'knex';
import { MAX_ROW_ID } from './ids';
import { isForeignKeyViolation, type Database } from './knex';
import { newJobRow, type JobLease } from './push-job-row';

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
  expiredAt: number | null;
  /** When a download found its file missing from the store. */
  lostAt: number | null;
}

/** A pending message with what its receiver needs to know about the sender. */
export interface PendingMessage extends Message {
  senderRegion: string;
  senderPhoneHash: string;
}

export interface MessageRow {
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
  expired_at: number | string | null;
  lost_at: number | string | null;
}

export function toMessage(row: MessageRow): Message {
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
    expiredAt: row.expired_at === null ? null : Number(row.expired_at),
    lostAt: row.lost_at == null ? null : Number(row.lost_at),
  };
}

const MESSAGE_COLUMNS = [
  'sender_uid',
  'receiver_uid',
  'message_key',
  'send_time',
  'exist',
  'filetype',
  'size',
  'width',
  'height',
  'blurhash',
  'client_msg_id',
];
const JOB_COLUMNS = Object.keys(newJobRow(0, 0));
const insertSql = (table: string, columns: string[]) =>
  `insert into ${table} (${columns.join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')})`;
/** The SQLite lane's statements of insertWithPushJob (named parameters). */
const INSERT_MESSAGE = `${insertSql('messages', MESSAGE_COLUMNS)} returning id`;
const INSERT_PUSH_JOB = insertSql('push_jobs', JOB_COLUMNS);

export type NewMessage = Omit<Message, 'messageId' | 'exist' | 'deletedAt' | 'expiredAt' | 'lostAt'>;
export type MessagesRepository = ReturnType<typeof messagesRepository>;

export function messagesRepository({ knex: db, lane: lanes }: Database) {
  const messages = (trx: Knex | Knex.Transaction = db) => trx<MessageRow>('messages');
  return {
    /**
     * Inserts a new message together with its push job in one transaction: a stored message always gets its
     * push (the outbox sends it). The job is due at `now`, or written under `lease` for the outbox that will
     * be handed it. Answers undefined, and writes nothing, when no user has the receiver's uid: the foreign
     * key checks it, which saves the send a lookup of its own.
     */
    async insertWithPushJob(
      m: NewMessage,
      now: number,
      lease: JobLease | null = null,
    ): Promise<Message | undefined> {
      if (m.receiverUid > MAX_ROW_ID) return undefined; // no such user, and PostgreSQL would fail on it
      const row = {
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
      };
      const lane = lanes.get();
      let messageId: number;
      try {
        messageId = lane
          ? lane.transaction(() => {
              const { id } = lane.get<{ id: number }>(INSERT_MESSAGE, { ...row, exist: 1 })!;
              lane.run(INSERT_PUSH_JOB, newJobRow(id, now, lease));
              return id;
            })
          : await db.transaction(async (trx) => {
              const [inserted] = await messages(trx).insert(row).returning('id');
              const id = typeof inserted === 'object' ? inserted.id : Number(inserted);
              await trx('push_jobs').insert(newJobRow(id, now, lease));
              return id;
            });
      } catch (err) {
        if (isForeignKeyViolation(err)) return undefined; // the sender exists: it was just authenticated
        throw err;
      }
      return { ...m, messageId, exist: true, deletedAt: null, expiredAt: null, lostAt: null };
    },

    async findByKey(messageKey: string): Promise<Message | undefined> {
      const lane = lanes.get();
      const row = lane
        ? lane.get<MessageRow>('select * from messages where message_key = ?', messageKey)
        : await messages().where({ message_key: messageKey }).first();
      return row && toMessage(row);
    },

    async findByClientMsgId(senderUid: number, clientMsgId: string): Promise<Message | undefined> {
      const lane = lanes.get();
      const row = lane
        ? lane.get<MessageRow>(
            'select * from messages where sender_uid = ? and client_msg_id = ?',
            senderUid,
            clientMsgId,
          )
        : await messages().where({ sender_uid: senderUid, client_msg_id: clientMsgId }).first();
      return row && toMessage(row);
    },

    /** The receiver's messages still stored and sent at or after notBefore, oldest first, after a message id. */
    async listPending(
      receiverUid: number,
      afterId: number,
      limit: number,
      notBefore: number,
    ): Promise<PendingMessage[]> {
      const rows = await db('messages as m')
        .join('users as s', 's.id', 'm.sender_uid')
        .where('m.receiver_uid', receiverUid)
        .andWhere('m.exist', true)
        .andWhere('m.id', '>', afterId)
        .andWhere('m.send_time', '>=', notBefore)
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

    /**
     * Expires up to `limit` live messages sent before cutoff: exist false, expired_at set. Returns the keys
     * this call expired (another instance sweeping at once never gets the same ones).
     */
    async expireSentBefore(cutoff: number, at: number, limit: number): Promise<string[]> {
      const due = await messages()
        .where('exist', true)
        .andWhere('send_time', '<', cutoff)
        .orderBy('send_time')
        .limit(limit)
        .pluck('id');
      if (!due.length) return [];
      const expired = await messages()
        .whereIn('id', due)
        .andWhere('exist', true)
        .update({ exist: false, expired_at: at })
        .returning('message_key');
      return expired.map((r) => (typeof r === 'object' ? r.message_key : String(r)));
    },

    /** Which of these keys belong to live (not deleted, not expired) messages. */
    async liveKeysAmong(keys: string[]): Promise<Set<string>> {
      if (!keys.length) return new Set();
      const rows = await messages()
        .whereIn('message_key', keys)
        .andWhere('exist', true)
        .select('message_key');
      return new Set(rows.map((r) => r.message_key));
    },

    /** Marks a message whose file is missing as no longer stored: lost, not deleted. */
    async markLost(messageId: number, at: number): Promise<void> {
      await messages().where({ id: messageId, exist: true }).update({ exist: false, lost_at: at });
    },

    /** Which of these keys any message has (or had: deleted, expired or lost ones count). */
    async knownKeysAmong(keys: string[]): Promise<Set<string>> {
      if (!keys.length) return new Set();
      const rows = await messages().whereIn('message_key', keys).select('message_key');
      return new Set(rows.map((r) => r.message_key));
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
