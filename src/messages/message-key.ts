import crypto from 'node:crypto';

/**
 * message_key: hex SHA-256 of the sender uid, receiver uid, send time and 128 random bits.
 * The random part makes it unguessable; it names the stored file and is the download handle.
 */
export function makeMessageKey(senderUid: number, receiverUid: number, sendTime: number): string {
  const nonce = crypto.randomBytes(16).toString('hex');
  return crypto.createHash('sha256').update(`${senderUid}:${receiverUid}:${sendTime}:${nonce}`).digest('hex');
}

export const MESSAGE_KEY = /^[0-9a-f]{64}$/;
