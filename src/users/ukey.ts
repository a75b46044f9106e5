import crypto from 'node:crypto';

/** A new ukey: 256 random bits as base64url (43 characters). Returned once; only its hash is stored. */
export function generateUkey(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/**
 * The ukey carries 256 bits of entropy, so a fast hash is enough: nothing is left to brute-force
 * (the same reasoning as Signal-Server's random auth tokens).
 */
export function hashUkey(ukey: string): string {
  return crypto.hash('sha256', ukey);
}

/** Compares a presented ukey with a stored hash in constant time. */
export function ukeyMatches(ukey: string, storedHash: string): boolean {
  const presented = crypto.hash('sha256', ukey, 'buffer');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && crypto.timingSafeEqual(presented, stored);
}
