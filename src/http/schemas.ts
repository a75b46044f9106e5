import { z } from 'zod';
import type { Config } from '../config';
import { MAX_ROW_ID } from '../db/ids';
import { BASE83, blurhashProblem, MAX_BLURHASH_LENGTH } from '../images/media';
import { LIMITS as FORM_LIMITS } from './middleware/multipart';
import { MESSAGE_KEY } from '../messages/message-key';

/**
 * Request schemas: validated at the edge by the routes, and described by /openapi.json. A limit that zod
 * cannot state in JSON Schema (a count of characters, a blurhash's shape) is given to the document with
 * meta(), beside the check that enforces it, so the two are read together.
 */

/** Unicode's control characters (Cc), as a regular expression class body. */
const CONTROL = '\\u0000-\\u001F\\u007F-\\u009F';
const hasControl = new RegExp(`[${CONTROL}]`);
/** A NUL cannot even be stored in PostgreSQL; no control character belongs in a name or an id. */
const noControl = (s: string) => !hasControl.test(s);

/**
 * Text that is trimmed, then holds 1 to max characters (code points, as zod, JSON Schema and PostgreSQL's
 * varchar count them), none a control character. The documented pattern is the same rule on the text as
 * sent: surrounding whitespace, then text that starts and ends with neither whitespace nor a control.
 */
/** The longest push token taken (users.cid holds 4096): providers do not promise a length. */
export const MAX_CID = 4096;

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine(noControl, 'must not contain control characters')
    .meta({ pattern: `^\\s*[^\\s${CONTROL}](?:[^${CONTROL}]*[^\\s${CONTROL}])?\\s*$` });

/** region_num and phone_num arrive as strings or, from some clients, as numbers. */
const digitsOrText = (max: number, form: { pattern: string; maximum?: number }) =>
  z
    .union([
      z.string().meta({ maxLength: max, pattern: form.pattern }),
      z
        .number()
        .int()
        .nonnegative()
        .meta(form.maximum === undefined ? {} : { maximum: form.maximum }),
    ])
    .transform(String)
    .pipe(z.string().trim().min(1).max(max));

export const RegisterBody = z
  .object({
    cid: text(MAX_CID).describe(
      'Push client id the push SDK gave the app (a GeTui cid, an FCM registration token); trimmed',
    ),
    region_num: digitsOrText(8, {
      // Checked by the phone number's parser (422 invalid_phone_number), after the schema.
      pattern: '^\\s*(?:\\+?[0-9]{1,3}|[A-Za-z]{2})\\s*$',
      maximum: 999,
    }).describe('Country calling code ("86", "+86", 86) or ISO 3166 country ("CN")'),
    phone_num: digitsOrText(32, { pattern: '\\S' }).describe(
      'Phone number, national or international format; it must be valid for region_num',
    ),
    nickname: text(64).describe('1 to 64 characters after trimming, no control characters'),
  })
  .strict();

/** The original protocol's credential fields; what authentication makes of them is a 401, not a 422. */
const credentialFields = (field: { maxLength?: number } = {}) => ({
  phone_hash: z
    .string()
    .meta(field)
    .optional()
    .describe('Credential field of the original protocol; prefer X-Phone-Hash'),
  ukey: z
    .string()
    .meta(field)
    .optional()
    .describe('Credential field of the original protocol; prefer X-Ukey'),
});

/** Authenticated JSON bodies may carry the credential fields beside their own. */
const withAuthFields = <T extends z.ZodRawShape>(shape: T) =>
  z
    .object({
      ...shape,
      ...credentialFields(),
    })
    .strict();

export const CidBody = withAuthFields({
  cid: text(MAX_CID).describe('The new push client id; surrounding whitespace is trimmed'),
});

const id = z
  .string()
  .regex(/^\d{1,10}$/, 'must be a positive integer')
  .transform(Number);

/**
 * A valid blurhash exactly: base83 digits, the first giving x × y components (1 to 9 each way), and
 * 4 + 2·x·y digits in all. blurhashProblem checks the same and says which part is wrong.
 */
function blurhashPattern(): string {
  const escape = (chars: string) => chars.replace(/[\\\][^-]/g, '\\$&');
  const digit = `[0-9A-Za-z${escape(BASE83.replace(/[0-9A-Za-z]/g, ''))}]`;
  const firstByCount = new Map<number, string>();
  for (let first = 0; first <= 80; first++) {
    const count = ((first % 9) + 1) * (Math.floor(first / 9) + 1);
    firstByCount.set(count, (firstByCount.get(count) ?? '') + BASE83[first]);
  }
  const forms = [...firstByCount].map(([count, firsts]) => `[${escape(firsts)}]${digit}{${3 + 2 * count}}`);
  return `^(?:${forms.join('|')})$`;
}

export const BLURHASH = blurhashPattern();

/** The text fields of the multipart photo upload (the photo itself is the file field img_file). */
export const SendFields = z
  .object({
    receiver_uid: id.describe('uid of the receiver'),
    client_msg_id: z
      .string()
      .min(1)
      .max(64)
      .refine(noControl, 'must not contain control characters')
      .meta({ pattern: `^[^${CONTROL}]*$` })
      .optional()
      .describe('Sender-chosen idempotency key: a repeat returns the first message'),
    blurhash: z
      .string()
      .superRefine((hash, ctx) => {
        const problem = blurhashProblem(hash);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ minLength: 6, maxLength: MAX_BLURHASH_LENGTH, pattern: BLURHASH })
      .optional()
      .describe(
        'A blurhash of the photo as displayed, computed by the app (4×3 components advised): the push preview',
      ),
    // Every text field of the form is at most LIMITS.fieldSize bytes: as many ASCII characters.
    ...credentialFields({ maxLength: FORM_LIMITS.fieldSize }),
  })
  .strict();

/** A uid in a path. Anything else names no user: the route answers it as an unknown uid. */
export const UidParam = z
  .string()
  .regex(/^[1-9]\d{0,15}$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(MAX_ROW_ID));

/** A message_key in a path; anything else names no message (404). */
export const MessageKeyParam = z.string().regex(MESSAGE_KEY);

export function listQuery(list: Config['list']) {
  return z.object({
    after: z
      .string()
      .regex(/^\d{1,16}$/, 'must be a message_id')
      .transform(Number)
      .pipe(z.number().int().min(0).max(MAX_ROW_ID, `must be a message_id, at most ${MAX_ROW_ID}`))
      .default(0),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(list.maxLimit))
      .default(list.defaultLimit),
  });
}
