import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths never written to logs: credentials and phone numbers, wherever they appear. */
export const REDACT_PATHS = [
  'ukey',
  'token',
  'phone_num',
  'phone_hash',
  '*.ukey',
  '*.token',
  '*.phone_num',
  '*.phone_hash',
  '*.sender_phone',
  '*.cid',
  'req.headers["x-ukey"]',
  'req.headers["x-phone-hash"]',
  'req.headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
