import { z } from 'zod';
import type { Config } from '../config';
import { CidBody, RegisterBody, SendFields } from './schemas';

const bodySchema = (schema: z.ZodType) => {
  const { $schema, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, example?: unknown) => ({
  'application/json': { schema, ...(example === undefined ? {} : { example }) },
});
const error = (description: string) => ({ description, content: json(ref('Error')) });
const auth = [{ phoneHash: [], ukey: [] }];
const messageKey = {
  name: 'message_key',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
};

/** The API reference served at /openapi.json. A test checks that it describes every mounted route. */
export function openApiDocument(config: Config) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'pushpic',
      version: '1',
      description:
        'Push-notification photo messaging: register a phone number, send a photo, the receiver is pushed, ' +
        'downloads it, and deletes it. Errors are always {"error": "<stable_code>", "message": "<plain words>"}.',
    },
    components: {
      securitySchemes: {
        phoneHash: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Phone-Hash',
          description: 'Lowercase hex SHA-256 of the E.164 number; also accepted as field phone_hash',
        },
        ukey: { type: 'apiKey', in: 'header', name: 'X-Ukey', description: 'Also accepted as field ukey' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: { error: { type: 'string' }, message: { type: 'string' } },
        },
        MessagePayload: {
          type: 'object',
          description: 'What a push carries and what the pending list shows',
          properties: {
            sender_region: { type: 'string', example: '86' },
            sender_phone: { type: 'string', description: "The sender's phone_hash" },
            sender_uid: { type: 'integer' },
            message_id: { type: 'integer' },
            message_key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            send_time: { type: 'integer', description: 'Epoch milliseconds' },
            filetype: { type: 'string', example: 'image/jpeg' },
            size: { type: 'integer' },
          },
        },
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness: the database answers',
          responses: { 200: { description: 'OK' }, 503: error('The database does not answer') },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: the database answers and the blob store takes writes',
          responses: { 200: { description: 'Ready' }, 503: error('A dependency is failing') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (Authorization: Bearer METRICS_TOKEN when set)',
          responses: { 200: { description: 'Text exposition format' }, 401: error('Wrong metrics token') },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } },
      },
      '/v1/register': {
        post: {
          summary: 'Register a phone number',
          requestBody: {
            required: true,
            content: json(bodySchema(RegisterBody), {
              cid: 'getui-cid-0123456789abcdef',
              region_num: '86',
              phone_num: '13912345678',
              nickname: 'Alice',
            }),
          },
          responses: {
            201: {
              description: 'Registered; the ukey is shown only now',
              content: json({
                type: 'object',
                properties: { uid: { type: 'integer' }, ukey: { type: 'string' } },
              }),
            },
            409: error('phone_already_registered'),
            422: error('invalid_phone_number or invalid_request'),
            429: error('too_many_requests'),
          },
        },
      },
      '/v1/me': {
        get: {
          summary: 'Your own profile',
          security: auth,
          responses: { 200: { description: 'Profile' }, 401: error('unauthorized') },
        },
      },
      '/v1/me/cid': {
        put: {
          summary: 'Replace the push client id',
          security: auth,
          requestBody: {
            required: true,
            content: json(bodySchema(CidBody), { cid: 'getui-cid-new-device' }),
          },
          responses: {
            204: { description: 'Replaced' },
            401: error('unauthorized'),
            422: error('invalid_request'),
          },
        },
      },
      '/v1/users/{uid}': {
        get: {
          summary: "Another user's public profile (never the phone number)",
          security: auth,
          parameters: [{ name: 'uid', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: {
            200: {
              description: 'Public profile',
              content: json({
                type: 'object',
                properties: {
                  uid: { type: 'integer' },
                  nickname: { type: 'string' },
                  region_num: { type: 'string' },
                },
              }),
            },
            404: error('user_not_found'),
          },
        },
      },
      '/v1/messages': {
        get: {
          summary: 'Your pending messages, oldest first',
          security: auth,
          parameters: [
            { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            {
              name: 'limit',
              in: 'query',
              schema: {
                type: 'integer',
                minimum: 1,
                maximum: config.list.maxLimit,
                default: config.list.defaultLimit,
              },
            },
          ],
          responses: {
            200: {
              description: 'A page of messages; pass next_after as after for the next one (null on the last)',
              content: json({
                type: 'object',
                properties: {
                  messages: { type: 'array', items: ref('MessagePayload') },
                  next_after: { type: ['integer', 'null'] },
                },
              }),
            },
            422: error('invalid_request'),
          },
        },
        post: {
          summary: 'Send a photo',
          security: auth,
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  ...bodySchema(SendFields),
                  properties: {
                    ...(bodySchema(SendFields).properties as object),
                    img_file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP or GIF' },
                  },
                  required: ['receiver_uid', 'img_file'],
                },
                example: { receiver_uid: '2', client_msg_id: 'phone-42-0001' },
              },
            },
          },
          responses: {
            201: { description: 'Stored; the receiver is pushed' },
            200: { description: 'A repeat of client_msg_id: the first message' },
            400: error('malformed_multipart'),
            404: error('receiver_not_found'),
            413: error('payload_too_large'),
            415: error('unsupported_media_type'),
            422: error('missing_file or invalid_request'),
            429: error('too_many_requests'),
          },
        },
      },
      '/v1/messages/{message_key}': {
        get: {
          summary: 'Download a photo (its receiver only)',
          security: auth,
          parameters: [messageKey],
          responses: {
            200: { description: 'The bytes, with Content-Type and Content-Length' },
            404: error('message_not_found (also for anyone but the receiver)'),
            410: error('gone (deleted after download) or expired'),
          },
        },
        delete: {
          summary: 'Delete a downloaded photo; repeating it answers 204 too',
          security: auth,
          parameters: [messageKey],
          responses: { 204: { description: 'Deleted' }, 404: error('message_not_found') },
        },
      },
    },
  };
}
