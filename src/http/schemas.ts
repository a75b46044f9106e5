import { z } from 'zod';
import type { Config } from '../config';
import { MAX_ROW_ID } from '../db/ids';
import { blurhashProblem } from '../images/media';

/** Request schemas: validated at the edge by the routes, and described by /openapi.json. */

/** A NUL cannot even be stored in PostgreSQL; no control character belongs in a push client id or an id. */
const noControl = (s: string) => !/\p{Cc}/u.test(s);
const text = (max: number) =>
  z.string().trim().min(1).max(max).refine(noControl, 'must not contain control characters');
/** region_num and phone_num arrive as strings or, from some clients, as numbers. */
const digitsOrText = (max: number) =>
  z
    .union([z.string(), z.number().int().nonnegative()])
    .transform(String)
    .pipe(z.string().trim().min(1).max(max));

export const RegisterBody = z
  .object({
    cid: text(128).describe('Push client id the push SDK gave the app'),
    region_num: digitsOrText(8).describe('Country calling code ("86", "+86") or ISO country ("CN")'),
    phone_num: digitsOrText(32).describe('Phone number, national or international format'),
    nickname: z
      .string()
      .trim()
      .refine((s) => [...s].length >= 1 && [...s].length <= 64, 'must be 1 to 64 characters')
      .refine(noControl, 'must not contain control characters')
      .describe('1 to 64 characters after trimming'),
  })
  .strict();

/** Authenticated JSON bodies may carry the seed's phone_hash and ukey fields beside their own. */
const withAuthFields = <T extends z.ZodRawShape>(shape: T) =>
  z.object({ ...shape, phone_hash: z.string().optional(), ukey: z.string().optional() }).strict();

export const CidBody = withAuthFields({ cid: text(128).describe('The new push client id') });

const id = z
  .string()
  .regex(/^\d{1,10}$/, 'must be a positive integer')
  .transform(Number);

/** The text fields of the multipart photo upload (the photo itself is the file field img_file). */
export const SendFields = z
  .object({
    receiver_uid: id.describe('uid of the receiver'),
    client_msg_id: z
      .string()
      .min(1)
      .max(64)
      .refine(noControl, 'must not contain control characters')
      .optional()
      .describe('Sender-chosen idempotency key: a repeat returns the first message'),
    blurhash: z
      .string()
      .superRefine((hash, ctx) => {
        const problem = blurhashProblem(hash);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe(
        'A blurhash of the photo as displayed, computed by the app (4×3 components advised): the push preview',
      ),
    phone_hash: z.string().optional(),
    ukey: z.string().optional(),
  })
  .strict();

export function listQuery(list: Config['list']) {
  return z.object({
    after: z
      .string()
      .regex(/^\d{1,16}$/, 'must be a message_id')
      .transform(Number)
      .pipe(z.number().max(MAX_ROW_ID, `must be a message_id, at most ${MAX_ROW_ID}`))
      .default(0),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(1).max(list.maxLimit))
      .default(list.defaultLimit),
  });
}
