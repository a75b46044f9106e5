import { z } from 'zod';
import type { Config } from '../config';
import { MAX_ROW_ID } from '../db/ids';
import { AppError, errors } from '../errors';
import type { ImageMime } from '../images/detect-image-type';
import type { MessagePayload } from '../push/push-provider';
import { CLIENT_REQUEST_ID } from './middleware/request-context';
import type { presentOwnProfile, presentPublicUser } from './presenters';
import type { sendPhoto } from './routes/messages';
import {
  BLURHASH,
  CidBody,
  listQuery,
  MAX_CID,
  MessageKeyParam,
  RegisterBody,
  SendFields,
  UidParam,
} from './schemas';
import { LIMITS } from './middleware/multipart';

/**
 * The API reference served at /openapi.json, for client generators and fuzzers. Request schemas come from
 * the zod schemas the routes validate with (./schemas.ts); response schemas are written here in zod and
 * checked against the presenters' types at compile time; error examples are the errors the server throws.
 * Tests lint it, check that it describes every mounted route, and fuzz the server from it.
 */

// ---- Response bodies -------------------------------------------------------------------------------

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif'] as const;
/** Fails to compile when ImageMime gains a type this list lacks. */
const everyImageType: Record<ImageMime, true> = Object.fromEntries(
  IMAGE_TYPES.map((t) => [t, true]),
) as never;
void everyImageType;

const Uid = z.number().int().min(1).max(MAX_ROW_ID).describe('A user id');
const MessageId = z.number().int().min(1).max(MAX_ROW_ID).describe('A message id, increasing');
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const EpochMs = z.number().int().min(0).describe('Epoch milliseconds');
const RegionNum = z
  .string()
  .regex(/^[0-9]{1,3}$/)
  .describe('Country calling code, without "+"');
const Filetype = z
  .string()
  .meta({ enum: [...IMAGE_TYPES] })
  .describe('The type detected from the bytes: JPEG, PNG, WebP, GIF or AVIF');
const Pixels = z.number().int().min(1).nullable();

const MessagePayloadSchema = z
  .object({
    sender_region: RegionNum,
    sender_phone: Hex64.describe("The sender's phone_hash, never the number"),
    sender_uid: Uid,
    message_id: MessageId,
    message_key: Hex64.describe('Names the photo for download and delete'),
    send_time: EpochMs.describe('When the server received the photo, epoch milliseconds'),
    filetype: Filetype,
    size: z.number().int().min(1).describe('Bytes of the stored photo'),
    width: Pixels.describe('Pixels as displayed (EXIF orientation applied); null for older messages'),
    height: Pixels.describe('Pixels as displayed (EXIF orientation applied); null for older messages'),
    blurhash: z
      .string()
      .meta({ pattern: BLURHASH })
      .nullable()
      .describe('A blurhash preview of the photo; null when the server runs with PUSH_PREVIEW=off'),
  })
  .describe('What a push carries (as JSON) and what the pending list shows');

const responseSchemas = {
  Registered: z.object({
    uid: Uid,
    ukey: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/)
      .describe('256 random bits, base64url: shown only in this answer; keep it on the device'),
  }),
  Profile: z.object({
    uid: Uid,
    cid: z.string().min(1).max(MAX_CID),
    region_num: RegionNum,
    phone_hash: Hex64.describe(
      'Lowercase hex SHA-256 of the phone number in E.164 (never the number itself)',
    ),
    nickname: z.string().min(1).max(64),
    reg_time: EpochMs,
  }),
  PublicUser: z
    .object({ uid: Uid, nickname: z.string().min(1).max(64), region_num: RegionNum })
    .describe('Another user as anyone sees them: never the phone number or its hash'),
  MessagePayload: MessagePayloadSchema,
  MessagePage: z.object({
    messages: z.array(MessagePayloadSchema),
    next_after: MessageId.nullable().describe('Pass as after for the next page; null on the last page'),
  }),
  SentMessage: z.object({
    message_id: MessageId,
    message_key: Hex64,
    send_time: EpochMs,
    filetype: Filetype,
    size: z.number().int().min(1).describe('Bytes stored (metadata stripped)'),
    width: Pixels.describe('Pixels as displayed (EXIF orientation applied)'),
    height: Pixels.describe('Pixels as displayed (EXIF orientation applied)'),
  }),
  Health: z.object({ status: z.literal('ok') }),
  Readiness: z.object({
    status: z
      .enum(['ready', 'degraded'])
      .describe('degraded: rate limits are counted in this instance alone (their shared store fails)'),
    checks: z.object({
      database: z.literal('ok'),
      blob_store: z.literal('ok'),
      rate_limits: z.enum(['ok', 'degraded']),
    }),
  }),
  NotReady: z.object({
    error: z.literal('not_ready'),
    message: z.string(),
    checks: z.object({
      database: z.enum(['ok', 'failing']),
      blob_store: z.enum(['ok', 'failing']),
      rate_limits: z.enum(['ok', 'degraded']),
    }),
  }),
  Error: z
    .object({
      error: z.string().describe('A stable code; each answer lists the codes it can carry'),
      message: z.string().describe('Plain words for a person; may change'),
    })
    .describe('Every 4xx answer, and a 5xx one (internal_error, database_unavailable)'),
};

/** Compiles only when the documented body is exactly the type the server sends. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function exactly<T extends true>(): T | void {}
type Doc<K extends keyof typeof responseSchemas> = z.output<(typeof responseSchemas)[K]>;
exactly<Same<Doc<'Profile'>, ReturnType<typeof presentOwnProfile>>>();
exactly<Same<Doc<'PublicUser'>, ReturnType<typeof presentPublicUser>>>();
exactly<Same<Doc<'MessagePayload'>, MessagePayload>>();
exactly<Same<Doc<'SentMessage'>, Awaited<ReturnType<typeof sendPhoto>>['body']>>();

/** zod schemas as components: references between them become $refs. */
function components(io: 'input' | 'output', schemas: Record<string, z.ZodType>) {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(out).map(([id, { $schema, $id, ...schema }]) => [id, schema as Record<string, unknown>]),
  );
}

/** One schema, as the value it describes (a query or path parameter's schema parses its text). */
function inline(schema: z.ZodType, io: 'input' | 'output' = 'output') {
  const { $schema, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return json as Record<string, unknown>;
}

// ---- Answers ---------------------------------------------------------------------------------------

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const requestIdHeader = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };

/** What each error code means, for the descriptions. */
const MEANING: Record<string, string> = {
  invalid_json: 'the body is not valid JSON',
  invalid_request: 'a field, parameter or the body breaks the schema; message names it',
  malformed_multipart: 'the multipart body is malformed or ends early',
  unsupported_content_type: 'the body is not of the media type the operation takes',
  unsupported_media_type: 'img_file is not a JPEG, PNG, WebP, GIF or AVIF image',
  payload_too_large: 'the body is over the limit',
  invalid_phone_number: 'region_num or phone_num is not a number that can be reached',
  phone_already_registered: 'the number is registered already (moving it needs SMS verification)',
  unauthorized: 'missing or wrong credentials (the same for an unknown phone and a wrong ukey)',
  user_not_found: 'no user has this uid',
  receiver_not_found: 'no user has this receiver_uid',
  message_not_found: 'no message with this key is addressed to you (also for anyone else’s)',
  gone: 'the photo was deleted after it was downloaded',
  expired: 'the photo was not downloaded in time',
  photo_lost: "the photo's file is missing from the server's store; delete the message",
  too_many_requests: 'over the rate limit; wait Retry-After seconds',
  image_too_large: 'the image has more pixels than the server takes',
  invalid_image: 'the image is damaged or malformed',
  missing_file: 'no photo in the file field img_file',
  method_not_allowed: 'the path does not take this method; Allow lists those it takes',
  headers_too_large: 'the request line and headers are over 16 KB',
  bad_request: 'the request is not well-formed HTTP',
  request_timeout:
    'the request did not arrive in time: its headers within a minute, all of it within 5 minutes',
  database_unavailable: 'the database does not answer',
};

/** The errors an operation can answer, grouped by status, each code with an example of its body. */
function errorAnswers(...examples: AppError[]) {
  const byStatus = new Map<number, AppError[]>();
  for (const e of examples) byStatus.set(e.status, [...(byStatus.get(e.status) ?? []), e]);
  return Object.fromEntries(
    [...byStatus].map(([status, errs]) => {
      const headers: Record<string, unknown> = { ...requestIdHeader };
      if (status === 429) headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
      if (status === 405) headers.Allow = { $ref: '#/components/headers/Allow' };
      return [
        String(status),
        {
          description: errs.map((e) => `\`${e.code}\`: ${MEANING[e.code] ?? e.message}`).join('; '),
          headers,
          content: {
            'application/json': {
              schema: ref('Error'),
              examples: Object.fromEntries(
                errs.map((e) => [e.code, { value: { error: e.code, message: e.message } }]),
              ),
            },
          },
        },
      ];
    }),
  );
}

const jsonTooLarge = new AppError(413, 'payload_too_large', 'The JSON body is larger than 64 KB.');
const invalidField = (message: string) => errors.invalidRequest(message);
/** Answered for any request its HTTP parser refuses, before routing. */
const httpErrors = [errors.headersTooLarge(), errors.badHttp(), errors.requestTimeout()];

function ok(description: string, schema?: object, extra: object = {}) {
  return {
    description,
    headers: requestIdHeader,
    ...(schema ? { content: { 'application/json': { schema } } } : {}),
    ...extra,
  };
}

/** A JSON request body from a zod schema's component. */
const jsonBody = (component: string, example: object) => ({
  required: true,
  content: { 'application/json': { schema: ref(component), example } },
});

const sentLinks = {
  downloadMessage: {
    operationId: 'downloadMessage',
    parameters: { message_key: '$response.body#/message_key' },
    description: 'The receiver downloads the photo',
  },
  listMessages: {
    operationId: 'listMessages',
    description: 'The receiver finds the message in its pending list',
  },
};

const publicOp = { security: [] };
const requestIdParam = { $ref: '#/components/parameters/X-Request-Id' };

// ---- The document ----------------------------------------------------------------------------------

export function openApiDocument(config: Config) {
  const query = listQuery(config.list).shape;
  const uidParam = { name: 'uid', in: 'path', required: true, schema: inline(UidParam) };
  const messageKeyParam = {
    name: 'message_key',
    in: 'path',
    required: true,
    schema: inline(MessageKeyParam),
    description: 'The message_key of a message addressed to you',
  };
  const sendForm = components('input', { SendMessageForm: SendFields }).SendMessageForm as {
    properties: Record<string, unknown>;
    required: string[];
  };
  const maxMb = Math.floor((config.maxUploadBytes / 1024 / 1024) * 10) / 10;

  return {
    openapi: '3.1.0',
    info: {
      title: 'pushpic',
      version: '1',
      license: { name: 'MIT', identifier: 'MIT' },
      description: [
        'Push-notification photo messaging: register a phone number, send a photo, the receiver is pushed,',
        'downloads it, and deletes it.',
        '',
        'Errors are always `{"error": "<stable_code>", "message": "<plain words>"}` with',
        '`Content-Type: application/json`; each answer lists its codes (and an example of each).',
        'Every answer carries `X-Request-Id` (the one the client sent when it is sane, else a new one).',
        'A method a documented path does not take is answered 405 `method_not_allowed` with `Allow`',
        '(the MethodNotAllowed response); an unknown path 404 `not_found`.',
        '',
        'Authenticated operations take the pair X-Phone-Hash and X-Ukey, both together. For the clients of',
        'the original protocol, phone_hash and ukey are also read from the query string, the JSON body of',
        "PUT /v1/me/cid and the send's form fields.",
      ].join('\n'),
    },
    servers: [{ url: '/', description: 'The server that serves this document' }],
    security: [{ phoneHash: [], ukey: [] }],
    tags: [
      { name: 'users', description: 'Registration and profiles' },
      { name: 'messages', description: 'Send, list, download and delete photos' },
      { name: 'operations', description: 'Health, readiness, metrics and this document' },
    ],
    components: {
      securitySchemes: {
        phoneHash: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Phone-Hash',
          description:
            'Lowercase hex SHA-256 of your E.164 number (^[0-9a-f]{64}$); sent with X-Ukey, never alone',
        },
        ukey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Ukey',
          description: 'The ukey register answered (at most 256 characters); sent with X-Phone-Hash',
        },
        metricsToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'METRICS_TOKEN, when the server is set with one',
        },
      },
      headers: {
        'X-Request-Id': {
          description: 'The request id every log line of this request carries',
          required: true,
          schema: { type: 'string', minLength: 1, maxLength: 64 },
        },
        'Retry-After': {
          description: 'Seconds to wait before trying again',
          required: true,
          schema: { type: 'integer', minimum: 1 },
        },
        Allow: {
          description: 'The methods the path takes',
          required: true,
          schema: { type: 'string', examples: ['GET, HEAD'] },
        },
      },
      parameters: {
        'X-Request-Id': {
          name: 'X-Request-Id',
          in: 'header',
          required: false,
          description: `Echoed back and logged when it matches ${CLIENT_REQUEST_ID.source}; else a new id is given`,
          schema: { type: 'string' },
        },
      },
      responses: {
        MethodNotAllowed: errorAnswers(errors.methodNotAllowed('GET, HEAD'))['405'],
      },
      schemas: {
        ...components('input', { RegisterRequest: RegisterBody, CidRequest: CidBody }),
        SendMessageForm: {
          ...sendForm,
          properties: {
            ...sendForm.properties,
            img_file: {
              type: 'string',
              format: 'binary',
              description:
                `The photo: JPEG, PNG, WebP, GIF or AVIF (the type is read from the bytes), at most ` +
                `${config.maxUploadBytes} bytes (${maxMb} MB) and ${config.images.maxPixels} pixels`,
            },
          },
          required: [...sendForm.required, 'img_file'],
          description:
            `The text fields (at most ${LIMITS.fields}, each at most ${LIMITS.fieldSize} bytes, names at most ` +
            `${LIMITS.fieldNameSize} characters) and one file, img_file`,
        },
        ...components('output', responseSchemas),
      },
    },
    paths: {
      '/healthz': {
        get: {
          operationId: 'checkLiveness',
          tags: ['operations'],
          summary: 'Liveness: the database answers',
          description:
            '200 while the process serves and its database answers; 503 database_unavailable otherwise.',
          ...publicOp,
          parameters: [requestIdParam],
          responses: {
            200: ok('OK', ref('Health')),
            ...errorAnswers(
              ...httpErrors,
              new AppError(503, 'database_unavailable', 'The database does not answer.'),
            ),
          },
        },
      },
      '/readyz': {
        get: {
          operationId: 'checkReadiness',
          tags: ['operations'],
          summary: 'Readiness: the database answers and the blob store takes writes',
          description:
            '200 while the database answers and the blob store takes writes; 503 not_ready, with the failing check, otherwise. A load balancer sends traffic only while it is 200.',
          ...publicOp,
          parameters: [requestIdParam],
          responses: {
            200: ok('Ready', ref('Readiness')),
            ...errorAnswers(...httpErrors),
            503: ok('`not_ready`: a dependency is failing; checks says which', ref('NotReady')),
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description:
            'Request counts and durations by route, push outcomes, upload bytes. Needs Authorization: Bearer METRICS_TOKEN when the server is set with one.',
          security: config.metricsToken ? [{ metricsToken: [] }] : [{ metricsToken: [] }, {}],
          parameters: [requestIdParam],
          responses: {
            200: {
              description: 'The Prometheus text exposition format',
              headers: requestIdHeader,
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...errorAnswers(
              ...httpErrors,
              ...(config.metricsToken
                ? [
                    new AppError(
                      401,
                      'unauthorized',
                      'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.',
                    ),
                  ]
                : []),
            ),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          tags: ['operations'],
          summary: 'This document',
          description:
            'The OpenAPI 3.1 description of this API, with the limits this server is configured with.',
          ...publicOp,
          parameters: [requestIdParam],
          responses: {
            200: ok('OpenAPI 3.1', { type: 'object' }),
            ...errorAnswers(...httpErrors),
          },
        },
      },
      '/v1/register': {
        post: {
          operationId: 'registerUser',
          tags: ['users'],
          summary: 'Register a phone number',
          description:
            "Registers a phone number with the push client id of the device. The answer's ukey is shown only once: keep it with uid and the phone_hash (lowercase hex SHA-256 of the E.164 number) on the device. A registered number cannot be registered again (409).",
          ...publicOp,
          parameters: [requestIdParam],
          requestBody: jsonBody('RegisterRequest', {
            cid: 'getui-cid-0123456789abcdef',
            region_num: '86',
            phone_num: '13912345678',
            nickname: 'Alice',
          }),
          responses: {
            201: ok('Registered; the ukey is shown only now', ref('Registered'), {
              links: {
                getUser: {
                  operationId: 'getUser',
                  parameters: { uid: '$response.body#/uid' },
                  description: 'The new user as others see them',
                },
                sendMessage: {
                  operationId: 'sendMessage',
                  requestBody: { receiver_uid: '{$response.body#/uid}' },
                  description: 'Send the new user a photo',
                },
              },
            }),
            ...errorAnswers(
              ...httpErrors,
              errors.invalidJson(),
              errors.phoneAlreadyRegistered(),
              jsonTooLarge,
              errors.unsupportedContentType('application/json'),
              invalidField('nickname: must not contain control characters'),
              errors.invalidPhoneNumber(),
              errors.tooManyRequests(60),
            ),
          },
        },
      },
      '/v1/me': {
        get: {
          operationId: 'getOwnProfile',
          tags: ['users'],
          summary: 'Your own profile',
          description:
            'Your profile as stored, with the phone_hash of your number (never the number itself).',
          parameters: [requestIdParam],
          responses: {
            200: ok('Your profile', ref('Profile')),
            ...errorAnswers(...httpErrors, errors.unauthorized()),
          },
        },
      },
      '/v1/me/cid': {
        put: {
          operationId: 'replaceCid',
          tags: ['users'],
          summary: 'Replace the push client id (a new device token)',
          description:
            'Replaces the push client id, after the push SDK gave the app a new one; pushes go to the new one from now on.',
          parameters: [requestIdParam],
          requestBody: jsonBody('CidRequest', { cid: 'getui-cid-new-device' }),
          responses: {
            204: ok('Replaced'),
            ...errorAnswers(
              ...httpErrors,
              errors.invalidJson(),
              errors.unauthorized(),
              jsonTooLarge,
              errors.unsupportedContentType('application/json'),
              invalidField('cid: must not contain control characters'),
            ),
          },
        },
      },
      '/v1/users/{uid}': {
        get: {
          operationId: 'getUser',
          tags: ['users'],
          summary: "Another user's public profile (never the phone number)",
          description: "Another user's uid, nickname and calling code. Never the phone number or its hash.",
          parameters: [uidParam, requestIdParam],
          responses: {
            200: ok('Their public profile', ref('PublicUser')),
            ...errorAnswers(...httpErrors, errors.unauthorized(), errors.userNotFound()),
          },
        },
      },
      '/v1/messages': {
        get: {
          operationId: 'listMessages',
          tags: ['messages'],
          summary: 'Your pending messages (not yet deleted), oldest first',
          description:
            'The messages addressed to you that are still stored (not deleted nor expired), oldest first, a page at a time: pass next_after as after to get the next page.',
          parameters: [
            {
              name: 'after',
              in: 'query',
              schema: inline(query.after),
              description: 'List messages with a message_id above this: next_after of the page before',
            },
            { name: 'limit', in: 'query', schema: inline(query.limit), description: 'Page size' },
            requestIdParam,
          ],
          responses: {
            200: ok('A page of messages', ref('MessagePage'), {
              links: {
                nextPage: {
                  operationId: 'listMessages',
                  parameters: { after: '$response.body#/next_after' },
                  description: 'The next page, while next_after is not null',
                },
                downloadFirst: {
                  operationId: 'downloadMessage',
                  parameters: { message_key: '$response.body#/messages/0/message_key' },
                  description: 'Download the first message of the page',
                },
                firstSender: {
                  operationId: 'getUser',
                  parameters: { uid: '$response.body#/messages/0/sender_uid' },
                  description: 'Who sent the first message of the page',
                },
              },
            }),
            ...errorAnswers(
              ...httpErrors,
              errors.unauthorized(),
              invalidField(`after: must be a message_id, at most ${MAX_ROW_ID}`),
            ),
          },
        },
        post: {
          operationId: 'sendMessage',
          tags: ['messages'],
          summary: 'Send a photo; the receiver is pushed',
          description:
            'Stores the photo (metadata stripped) and pushes its receiver. With a client_msg_id, a repeated send answers 200 with the first message instead of storing another: retry a send with the same client_msg_id.',
          parameters: [requestIdParam],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: ref('SendMessageForm'),
                encoding: { img_file: { contentType: IMAGE_TYPES.join(', ') } },
                example: {
                  receiver_uid: '2',
                  client_msg_id: 'phone-42-0001',
                  img_file: '(the photo’s bytes)',
                },
              },
            },
          },
          responses: {
            201: ok('Stored; the receiver is pushed', ref('SentMessage'), { links: sentLinks }),
            200: ok(
              'A repeat of a client_msg_id: the first message, nothing stored again',
              ref('SentMessage'),
              {
                links: sentLinks,
              },
            ),
            ...errorAnswers(
              ...httpErrors,
              errors.malformedMultipart(),
              errors.unauthorized(),
              errors.receiverNotFound(),
              errors.payloadTooLarge(config.maxUploadBytes),
              errors.unsupportedContentType('multipart/form-data'),
              errors.unsupportedMediaType(),
              invalidField('receiver_uid: must be a positive integer'),
              errors.missingFile(),
              errors.invalidImage('it ends before its image data'),
              errors.imageTooLarge(config.images.maxPixels),
              errors.tooManyRequests(60),
            ),
          },
        },
      },
      '/v1/messages/{message_key}': {
        get: {
          operationId: 'downloadMessage',
          tags: ['messages'],
          summary: 'Download a photo (its receiver only)',
          description:
            "The photo's bytes, to its receiver only; anyone else gets the same 404 as for a key that does not exist. Delete it once it is shown.",
          parameters: [messageKeyParam, requestIdParam],
          responses: {
            200: {
              description: 'The photo, with its type, Content-Length and Cache-Control: private, no-store',
              headers: requestIdHeader,
              content: Object.fromEntries(
                IMAGE_TYPES.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
              ),
              links: {
                deleteMessage: {
                  operationId: 'deleteMessage',
                  parameters: { message_key: '$request.path.message_key' },
                  description: 'Delete the photo once it is shown',
                },
              },
            },
            ...errorAnswers(
              ...httpErrors,
              errors.unauthorized(),
              errors.messageNotFound(),
              errors.gone(),
              errors.expired(),
              errors.photoLost(),
            ),
          },
        },
        delete: {
          operationId: 'deleteMessage',
          tags: ['messages'],
          summary: 'Delete a photo (its receiver only); deleting again answers 204 too',
          description: 'Deletes the stored photo; its receiver only. Repeating it answers 204 too.',
          parameters: [messageKeyParam, requestIdParam],
          responses: {
            204: ok('Deleted'),
            ...errorAnswers(...httpErrors, errors.unauthorized(), errors.messageNotFound()),
          },
        },
      },
    },
  };
}
