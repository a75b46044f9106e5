import http from 'node:http';
import fc from 'fast-check';
import { conforms, type Json, type Operation, type Parameter } from './openapi-doc';
import { BOUNDARY } from './raw-http';

/**
 * Requests drawn from an operation of the OpenAPI document: each part (parameter, body field, body,
 * credentials) is either drawn from its schema and limits or hostile, and the request remembers whether
 * the document calls it valid (every part valid by the document's own schema, as a client validator would
 * say) so that the server's answer can be checked against it.
 */

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Every part is valid by the document, credentials included. */
  valid: boolean;
  /** The first part that is not, for the failure message. */
  why: string;
  /** The values a path and query parameter had, for links. */
  exchange: { path: Record<string, string>; query: Record<string, string> };
}

export interface FuzzContext {
  /** Values of the security schemes that authenticate (the registered user's). */
  secrets: Record<string, string>;
  /** Values links gave, per operationId and parameter or body field name. */
  linked: Map<string, unknown[]>;
  /** Image files the generator may attach, each a real photo of an accepted type. */
  images: Buffer[];
  /** Past this many bytes an upload is refused (MAX_UPLOAD_BYTES of the server under test). */
  maxUploadBytes: number;
}

const TWO_31 = 2 ** 31;
const TWO_53 = 2 ** 53;

/** Strings no input should trip on. */
const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\r\n\t\u0007\u001b[31m',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2f',
  '__proto__',
  'constructor',
  'prototype',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u0645\u0631\u062d\u0628\u0627',
  'e\u0301\u0301\u0301\u0301',
  '📷'.repeat(65),
  '\ufeff86',
  '０１２３',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x1f',
  String(TWO_31),
  String(TWO_53 + 2),
  '99999999999999999999999',
  '-1',
  '1.5',
  'null',
  'true',
  '[]',
  '{}',
];

const HOSTILE_NUMBERS = [
  0,
  -1,
  -0.5,
  0.5,
  1.5,
  TWO_31 - 1,
  TWO_31,
  TWO_31 + 1,
  2 ** 32,
  TWO_53 - 1,
  TWO_53,
  TWO_53 + 2,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
];

const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(...HOSTILE_STRINGS),
  fc.constantFrom<unknown>(...HOSTILE_NUMBERS),
  fc.constantFrom<unknown>(null, true, false, [], {}, ['a', 'b'], { $gt: '' }, { __proto__: null }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.nat({ max: 3 }).map((n) => 'x'.repeat([300, 5_000, 70_000, 20_000][n])),
);

const typeOf = (schema: Json): string[] =>
  Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [String(schema.type)] : [];

/** Values the schema allows, its limits and their neighbours inside. */
function validValue(schema: Json): fc.Arbitrary<unknown> {
  const alternatives = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map(validValue));
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.const !== undefined) return fc.constant(schema.const);
  const type = typeOf(schema)[0];
  if (type === 'null') return fc.constant(null);
  if (type === 'boolean') return fc.boolean();
  if (type === 'integer' || type === 'number') {
    const min = (schema.minimum as number | undefined) ?? -TWO_31;
    const max = (schema.maximum as number | undefined) ?? TWO_31;
    return fc.oneof(
      fc.constantFrom(min, max),
      fc.integer({ min, max: Math.min(max, min + 100) }),
      fc.integer({ min, max }),
    );
  }
  if (type === 'string') {
    if (schema.format === 'binary') return fc.constant('<binary>');
    const minLength = (schema.minLength as number | undefined) ?? 0;
    const maxLength = (schema.maxLength as number | undefined) ?? 200;
    const fits = (s: string) => conforms(schema, s);
    if (typeof schema.pattern === 'string') {
      return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter(fits);
    }
    return fc
      .oneof(
        fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 20) }),
        fc.constantFrom(minLength, maxLength).map((n) => 'a'.repeat(n)),
      )
      .filter(fits);
  }
  if (type === 'object' || schema.properties) return validObject(schema);
  if (type === 'array') return fc.array(validValue((schema.items ?? {}) as Json), { maxLength: 3 });
  return fc.anything();
}

function validObject(schema: Json): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = (schema.required ?? []) as string[];
  return fc.record(Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, validValue(s)])), {
    requiredKeys: required,
  }) as fc.Arbitrary<Record<string, unknown>>;
}

/** Values just past each limit the schema states, of the wrong type, and hostile ones. */
function invalidValue(schema: Json): fc.Arbitrary<unknown> {
  const edges: unknown[] = [];
  if (typeof schema.maxLength === 'number')
    edges.push('a'.repeat(schema.maxLength + 1), '📷'.repeat(schema.maxLength + 1));
  if (typeof schema.minLength === 'number' && schema.minLength > 0)
    edges.push('a'.repeat(schema.minLength - 1));
  if (typeof schema.maximum === 'number') edges.push(schema.maximum + 1, schema.maximum + 0.5);
  if (typeof schema.minimum === 'number') edges.push(schema.minimum - 1, schema.minimum - 0.5);
  const alternatives = (schema.anyOf ?? []) as Json[];
  for (const alt of alternatives) {
    if (typeof alt.maxLength === 'number') edges.push('1'.repeat(alt.maxLength + 1));
    if (typeof alt.maximum === 'number') edges.push(alt.maximum + 1);
  }
  const arbitraries: fc.Arbitrary<unknown>[] = [hostileValue];
  if (edges.length) arbitraries.push(fc.constantFrom(...edges));
  if (typeof schema.pattern === 'string') {
    const re = new RegExp(schema.pattern, 'u');
    arbitraries.push(fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !re.test(s)));
  }
  return fc.oneof(...arbitraries);
}

/** A value for one part: drawn valid (more often) or invalid; conformance is decided by the schema. */
const partValue = (schema: Json) =>
  fc.oneof({ weight: 3, arbitrary: validValue(schema) }, { weight: 2, arbitrary: invalidValue(schema) });

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text a header can carry (Node's client refuses the rest). */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

/** A parameter's text as the server reads it, and the typed value a client's validator would check. */
function deserialize(schema: Json, text: string): unknown {
  const types = [...typeOf(schema), ...((schema.anyOf ?? []) as Json[]).flatMap(typeOf)];
  if ((types.includes('integer') || types.includes('number')) && /^(?!-0)-?\d+(\.\d+)?$/.test(text))
    return Number(text);
  return text;
}

const asText = (value: unknown) =>
  typeof value === 'string'
    ? value
    : typeof value === 'object' && value !== null
      ? JSON.stringify(value)
      : String(value);

function multipart(fields: [string, string][], file?: { bytes: Buffer; filename: string }): Buffer {
  const chunks: Buffer[] = [];
  for (const [name, value] of fields) {
    chunks.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name.replace(/"/g, '%22')}"\r\n\r\n${value}\r\n`,
      ),
    );
  }
  if (file) {
    const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="img_file"; filename="${file.filename.replace(/["\r\n]/g, '_')}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    chunks.push(Buffer.from(head), file.bytes, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** Draws requests for one operation of the document. */
export function requestsFor(o: Operation, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const linkedOr = (name: string, arb: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 2, arbitrary: arb },
      {
        weight: 1,
        arbitrary: fc.nat().map((i) => {
          const values = ctx.linked.get(`${o.id}.${name}`) ?? [];
          return values.length ? values[i % values.length] : undefined;
        }),
      },
    );
  const params = fc.tuple(
    ...o.parameters.map((p: Parameter) =>
      fc.tuple(
        fc.constant(p),
        p.required
          ? linkedOr(p.name, partValue(p.schema))
          : fc.option(linkedOr(p.name, partValue(p.schema)), { nil: undefined }),
      ),
    ),
  );

  // Credentials: an alternative of the document's, filled right, wrong, or in part; or none.
  const alternatives = o.security.filter((s) => Object.keys(s).length > 0);
  const anonymousOk = o.security.length === 0 || o.security.some((s) => Object.keys(s).length === 0);
  const credentials = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...(alternatives.length ? alternatives : [{}]))
        .map((s) => ({ schemes: Object.keys(s), how: 'right' as const })),
    },
    { weight: 1, arbitrary: fc.constant({ schemes: [] as string[], how: 'none' as const }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...(alternatives.length ? alternatives : [{}])), hostileValue)
        .map(([s, v]) => ({
          schemes: Object.keys(s),
          how: 'wrong' as const,
          value: asText(v),
        })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...(alternatives.length ? alternatives : [{}])).map((s) => ({
        schemes: Object.keys(s).slice(0, 1),
        how: Object.keys(s).length > 1 ? ('part' as const) : ('right' as const),
      })),
    },
  );

  /**
   * A body drawn from its schema, from the document's example with one field drawn anew, or with fields
   * that links gave values for (a registered receiver_uid) taking those values.
   */
  const bodyObject = (schema: Json, example: unknown) => {
    const properties = Object.keys((schema.properties ?? {}) as object);
    const drawn = fc.oneof(
      validObject(schema),
      ...(example && typeof example === 'object'
        ? [
            fc
              .tuple(fc.constantFrom(...properties), validObject(schema))
              .map(([key, obj]) => ({ ...(example as Json), ...(key in obj ? { [key]: obj[key] } : {}) })),
          ]
        : []),
    );
    return fc.tuple(drawn, fc.nat(), fc.boolean()).map(([obj, n, useLinked]) => {
      if (!useLinked) return obj;
      const out: Record<string, unknown> = { ...obj };
      for (const key of properties) {
        const values = ctx.linked.get(`${o.id}.${key}`) ?? [];
        if (values.length) out[key] = values[n % values.length];
      }
      return out;
    });
  };

  const content = o.requestBody?.content ?? {};
  const [mediaType, media] = Object.entries(content)[0] ?? [];
  type Body = { body?: Buffer; type?: string; valid: boolean; why: string };
  let body: fc.Arbitrary<Body> = fc.constant({ valid: true, why: '' });
  if (mediaType === 'application/json') {
    const schema = media.schema;
    const json = fc.oneof(
      { weight: 4, arbitrary: bodyObject(schema, media.example) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            validObject(schema),
            fc.constantFrom(...Object.keys((schema.properties ?? {}) as object)),
            invalidValue(schema),
          )
          .map(([obj, key, bad]) => ({ ...obj, [key]: bad })),
      },
      { weight: 1, arbitrary: hostileValue },
    );
    const raw = fc.constantFrom(
      '{"cid": "x",',
      '{"__proto__": {"admin": true}, "cid": "c"}',
      '{"constructor": {"prototype": {"admin": true}}}',
      '['.repeat(5000),
      '\u0000',
      '',
      '{"a":' + '1'.repeat(400) + '}',
    );
    body = fc
      .oneof(
        {
          weight: 6,
          arbitrary: json.map((v) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' })),
        },
        { weight: 1, arbitrary: raw.map((text) => ({ text, type: 'application/json' })) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              json,
              fc.constantFrom(
                'text/plain',
                'application/x-www-form-urlencoded',
                'application/json; charset=latin1',
                'multipart/form-data',
              ),
            )
            .map(([v, type]) => ({ text: JSON.stringify(v) ?? '', type })),
        },
        {
          weight: 1,
          arbitrary: fc.constant({
            text: undefined as string | undefined,
            type: undefined as string | undefined,
          }),
        },
      )
      .map(({ text, type }) => {
        if (text === undefined) return { valid: !o.requestBody?.required, why: 'no body' };
        let parsed: unknown;
        let parses = true;
        try {
          parsed = JSON.parse(text);
        } catch {
          parses = false;
        }
        const valid = type?.split(';')[0].trim() === 'application/json' && parses && conforms(schema, parsed);
        return {
          body: Buffer.from(text),
          type,
          valid,
          why: valid ? '' : `body ${text.slice(0, 80)} (${type})`,
        };
      });
  } else if (mediaType === 'multipart/form-data') {
    const schema = media.schema;
    const fieldsArb = fc.oneof(
      { weight: 4, arbitrary: bodyObject(schema, media.example) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            validObject(schema),
            fc.constantFrom(...Object.keys((schema.properties ?? {}) as object), '__proto__', 'extra'),
            invalidValue(schema),
          )
          .map(([obj, key, bad]) => ({ ...obj, [key]: bad })),
      },
    );
    const file = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...ctx.images) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...ctx.images).map((b) => b.subarray(0, Math.floor(b.length / 2))),
      },
      { weight: 1, arbitrary: fc.constant(Buffer.alloc(ctx.maxUploadBytes + 1, 0xff)) },
    );
    body = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .tuple(
            fieldsArb,
            fc.constantFrom(
              'photo.jpg',
              '../../../etc/passwd',
              '__proto__',
              '\u202ephoto.gpj',
              'x'.repeat(300),
            ),
          )
          .map(([fields, filename]) => {
            const hasFile = 'img_file' in fields;
            const textFields = Object.entries(fields)
              .filter(([k]) => k !== 'img_file')
              .map(([k, v]) => [k, asText(v)] as [string, string]);
            return { textFields, hasFile, filename };
          })
          .chain(({ textFields, hasFile, filename }) =>
            (hasFile ? file : fc.constant(undefined)).map((bytes) => {
              const read: Record<string, unknown> = Object.fromEntries(textFields);
              if (bytes) read.img_file = '<binary>';
              // img_file, whatever value was drawn for it, is sent as the file part: valid binary.
              const valid = conforms(schema, read);
              return {
                body: multipart(textFields, bytes && { bytes, filename }),
                type: `multipart/form-data; boundary=${BOUNDARY}`,
                valid,
                why: valid ? '' : `form ${JSON.stringify(read).slice(0, 120)}`,
              };
            }),
          ),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            'multipart/form-data',
            'multipart/form-data; boundary=',
            `multipart/form-data; boundary=${BOUNDARY}`,
          )
          .map((type) => ({
            body: Buffer.from('--x\r\nnot multipart'),
            type,
            valid: false,
            why: 'malformed multipart',
          })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('application/json', 'text/plain')
          .map((type) => ({ body: Buffer.from('{}'), type, valid: false, why: `body of ${type}` })),
      },
      { weight: 1, arbitrary: fc.constant({ valid: false, why: 'no body' }) },
    );
  }

  return fc.tuple(params, credentials, body).map(([values, cred, b]) => {
    const headers: Record<string, string> = {};
    const query = new URLSearchParams();
    const exchange = { path: {} as Record<string, string>, query: {} as Record<string, string> };
    let path = o.path;
    let valid = true;
    let why = '';
    const fail = (reason: string) => {
      if (valid) why = reason;
      valid = false;
    };
    for (const [p, value] of values) {
      if (value === undefined) {
        if (p.required) fail(`${p.name} missing`);
        continue;
      }
      let text = asText(value);
      if (p.in === 'header') text = headerSafe(text);
      // An empty segment would be another path (another route): a blank one stays on this one.
      if (p.in === 'path' && text === '') text = ' ';
      // A URL carries UTF-8: a lone surrogate reaches the server as U+FFFD.
      if (p.in !== 'header') text = text.replace(LONE_SURROGATE, '\ufffd');
      if (!conforms(p.schema, deserialize(p.schema, text))) fail(`${p.in} ${p.name}=${text.slice(0, 60)}`);
      if (p.in === 'path') {
        path = path.replace(`{${p.name}}`, encodeURIComponent(text));
        exchange.path[p.name] = text;
      } else if (p.in === 'query') {
        query.append(p.name, text);
        exchange.query[p.name] = text;
      } else if (p.in === 'header') headers[p.name] = text;
    }
    // Credentials, by the document's schemes.
    for (const scheme of cred.schemes) {
      const definition = ctx.secrets[scheme];
      if (definition === undefined) continue;
      const value = cred.how === 'wrong' ? headerSafe(cred.value) : definition;
      const [where, name] = schemeTarget(scheme);
      if (where === 'header') headers[name] = name === 'Authorization' ? `Bearer ${value}` : value;
      else query.append(name, value);
    }
    const authenticated = anonymousOk || (cred.how === 'right' && alternatives.length > 0);
    if (!authenticated) fail(`credentials ${cred.how}`);
    if (!b.valid) fail(b.why);
    if (b.body) {
      headers['Content-Type'] = b.type!;
      headers['Content-Length'] = String(b.body.length);
    }
    const qs = query.toString();
    return {
      method: o.method.toUpperCase(),
      path: qs ? `${path}?${qs}` : path,
      headers,
      body: b.body,
      valid,
      why,
      exchange,
    };
  });
}

/** Where a security scheme's value goes: set by the test from the document's securitySchemes. */
export const schemeTargets = new Map<string, [string, string]>();
function schemeTarget(scheme: string): [string, string] {
  const target = schemeTargets.get(scheme);
  if (!target) throw new Error(`unknown security scheme ${scheme}`);
  return target;
}

export interface FuzzResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Sends a request as it was drawn; resolves with the answer even when the server stops reading early. */
export function send(port: number, req: FuzzRequest): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    const r = http.request({
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.path,
      headers: req.headers,
      agent,
    });
    let answered = false;
    r.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    r.on('error', (err) => {
      if (!answered) reject(err);
    });
    r.end(req.body);
  });
}

export function closeAgent(): void {
  agent.destroy();
}
