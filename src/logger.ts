import { AsyncLocalStorage } from 'node:async_hooks';
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

/** The request being served, so every line logged on its behalf carries its id, whoever logs it. */
export const requestScope = new AsyncLocalStorage<{ req_id: string }>();

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      mixin: () => requestScope.getStore() ?? {},
    },
    destination,
  );
}
