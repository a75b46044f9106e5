import { expect } from 'chai';
import fc from 'fast-check';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser, sendPhoto, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import {
  conforms,
  deref,
  errorCodes,
  evaluate,
  HTTP_METHODS,
  operations,
  type OpenApiDoc,
  type Operation,
} from '../support/openapi-doc';
import {
  closeAgent,
  requestsFor,
  schemeTargets,
  send,
  type FuzzContext,
  type FuzzRequest,
  type FuzzResponse,
} from '../support/openapi-fuzz';

/** Requests per operation of the document (valid and invalid, with and without credentials). */
const RUNS = 200;
/** Fixed so that a run can be replayed; FUZZ_SEED picks another. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

/** Codes that say the request broke the document: never the answer to a request the document calls valid. */
const SCHEMA_CODES = [
  'invalid_request',
  'invalid_json',
  'unsupported_content_type',
  'malformed_multipart',
  'missing_file',
  'unauthorized',
];

interface State {
  users: number;
  messages: number;
  pushJobs: number;
  files: string[];
}

describe('the server against its OpenAPI document, fuzzed', function () {
  this.timeout(120_000);
  let t: TestApp;
  let doc: OpenApiDoc;
  let ops: Operation[];
  let alice: TestUser;
  let bob: TestUser;
  const ctx: FuzzContext = { secrets: {}, linked: new Map(), images: [], maxUploadBytes: 100_000 };

  /** The rows and files a request could leave behind, in one query. */
  async function state(): Promise<State> {
    const { db } = t.services;
    const row = await db
      .select({
        users: db('users').count('*'),
        messages: db('messages').count('*'),
        pushJobs: db('push_jobs').count('*'),
      })
      .first();
    return {
      users: Number(row.users),
      messages: Number(row.messages),
      pushJobs: Number(row.pushJobs),
      files: t.storedFiles().sort(),
    };
  }

  /** Every stored file is a live message's photo and every live message has its file; no temporary file. */
  async function expectStorageConsistent(label: string) {
    const live = await t.services.db('messages').where({ exist: true }).pluck('message_key');
    const files = t.storedFiles();
    expect(
      files.filter((f) => f.startsWith('.tmp')),
      `${label}: temporary files`,
    ).to.deep.equal([]);
    const stored = files.filter((f) => !f.startsWith('.')).map((f) => f.split('/').pop());
    expect(stored.sort(), `${label}: stored files are the live messages`).to.deep.equal(live.sort());
  }

  /** Keeps what links of a 2xx answer give, as values the generator may use for the linked operations. */
  function harvest(o: Operation, req: Pick<FuzzRequest, 'exchange'>, res: FuzzResponse) {
    const declared = o.responses[String(res.status)];
    if (!declared?.links) return;
    const json = /json/.test(String(res.headers['content-type']))
      ? JSON.parse(res.body.toString())
      : undefined;
    const exchange = { request: req.exchange, response: { body: json } };
    for (const link of Object.values(declared.links)) {
      const values = { ...(link.parameters ?? {}), ...((link.requestBody as object) ?? {}) };
      for (const [name, expr] of Object.entries(values)) {
        const value = evaluate(expr, exchange);
        if (value === undefined || value === null || value === 'undefined') continue;
        const key = `${link.operationId}.${name}`;
        const list = ctx.linked.get(key) ?? [];
        if (!list.includes(value)) ctx.linked.set(key, [...list, value].slice(-20));
      }
    }
  }

  before(async () => {
    t = await startTestApp({
      METRICS_TOKEN: 'fuzz-metrics-token',
      MAX_UPLOAD_BYTES: String(ctx.maxUploadBytes),
    });
    doc = (await t.api.get('/openapi.json')).body;
    ops = operations(doc);
    for (const [name, scheme] of Object.entries(doc.components.securitySchemes)) {
      const s = scheme as { type: string; in?: string; name?: string; scheme?: string };
      schemeTargets.set(name, s.type === 'http' ? ['header', 'Authorization'] : [s.in!, s.name!]);
    }
    alice = await buildUser(t.api);
    bob = await buildUser(t.api);
    ctx.secrets = { phoneHash: alice.phoneHash, ukey: alice.ukey, metricsToken: 'fuzz-metrics-token' };
    ctx.images = await Promise.all([
      makeImage('png'),
      makeImage('jpeg'),
      makeImage('gif'),
      makeImage('webp', 8, 8),
    ]);
    // Messages for alice to list, download and delete: the links of list answers name their keys.
    for (const image of ctx.images) expect((await sendPhoto(t.api, bob, alice, image)).status).to.equal(201);
    const list = ops.find((o) => o.id === 'listMessages')!;
    const listed = await send(t.port, {
      method: 'GET',
      path: '/v1/messages',
      headers: alice.headers,
      valid: true,
      why: '',
      exchange: { path: {}, query: {} },
    });
    harvest(list, { exchange: { path: {}, query: {} } }, listed);
    const register = ops.find((o) => o.id === 'registerUser')!;
    harvest(
      register,
      { exchange: { path: {}, query: {} } },
      {
        status: 201,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ uid: bob.uid })),
      },
    );
  });

  after(async () => {
    closeAgent();
    await t.close();
  });

  function check(o: Operation, req: FuzzRequest, res: FuzzResponse, before: State, after: State) {
    const { status } = res;
    expect(status, 'no 5xx').to.be.below(500);
    const declared = o.responses[String(status)];
    expect(declared, `the document declares ${status}`).to.not.equal(undefined);
    for (const [name, header] of Object.entries(declared.headers ?? {})) {
      if (header.required) expect(res.headers[name.toLowerCase()], `header ${name}`).to.be.a('string');
    }
    const type = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    if (declared.content) {
      expect(Object.keys(declared.content), 'a declared media type').to.include(type);
      if (type === 'application/json') {
        const body = JSON.parse(res.body.toString());
        expect(
          conforms(declared.content[type].schema, body),
          `body fits: ${res.body.toString().slice(0, 300)}`,
        ).to.equal(true);
        if (status >= 400) expect(errorCodes(declared), 'a declared error code').to.include(body.error);
        if (req.valid)
          expect(SCHEMA_CODES, `a valid request (${res.body.toString()})`).to.not.include(body.error);
      }
    } else {
      expect(res.body.length, 'no body').to.equal(0);
    }
    if (!req.valid) expect(status, `invalid by the document: ${req.why}`).to.be.at.least(400);

    // Nothing is left behind by a refused request, nor changed by a GET; a success adds one row at most.
    if (status >= 300 || o.method === 'get') {
      expect(after, 'nothing changed').to.deep.equal(before);
    } else {
      for (const table of ['users', 'messages', 'pushJobs'] as const) {
        expect(after[table] - before[table], table).to.be.within(0, 1);
      }
    }
  }

  const describeRequest = (req: FuzzRequest) =>
    `${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 300)} ` +
    `body ${req.body?.length ?? 0} bytes: ${req.body?.subarray(0, 200).toString('latin1') ?? ''}`;

  it('holds for every operation of the document', async () => {
    expect(ops.length).to.be.at.least(12);
    const counts: Record<string, number> = {};
    let last: State | undefined;
    await expectStorageConsistent('before');
    for (const o of ops) {
      counts[o.id] = 0;
      const requests = requestsFor(o, ctx).map((req) =>
        Object.assign(req, { [fc.toStringMethod]: () => describeRequest(req) }),
      );
      const result = await fc.check(
        fc.asyncProperty(requests, async (req) => {
          counts[o.id] += 1;
          // Each request's state after is the next one's before: nothing else writes meanwhile.
          const before = last ?? (await state());
          const res = await send(t.port, req);
          const after = await state();
          last = after;
          try {
            check(o, req, res, before, after);
            // A refused request changed nothing (checked above), so storage can only have changed on a 2xx.
            if (res.status < 300) await expectStorageConsistent(o.id);
          } catch (err) {
            const logged = t.logs.lines
              .filter((l) => l.event === 'http.unhandled_error')
              .map((l) => JSON.stringify(l.err).slice(0, 500));
            (err as Error).message +=
              (logged.length ? `\n  logged: ${logged.at(-1)}` : '') +
              `\n  ${o.id}: ${res.status} ${res.body.subarray(0, 300).toString()}\n  valid by the document: ${req.valid} ${req.why}`;
            throw err;
          }
          if (res.status < 300) harvest(o, req, res);
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      if (result.failed) {
        throw new Error(
          `${o.id} (${o.method.toUpperCase()} ${o.path}) failed; replay with FUZZ_SEED=${SEED}\n` +
            fc.defaultReportMessage(result) +
            `\n${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)}`,
        );
      }
    }
    for (const [id, n] of Object.entries(counts)) expect(n, id).to.be.at.least(RUNS);
  });

  it('answers a method a documented path does not take with the documented 405 and its Allow', async () => {
    const response = deref(
      doc,
      doc.components.responses.MethodNotAllowed,
    ) as unknown as Operation['responses'][string];
    for (const [path, item] of Object.entries(doc.paths)) {
      const documented = Object.keys(item).filter((m) => HTTP_METHODS.includes(m));
      const concrete = path.replace(/\{[^}]+\}/g, '1');
      for (const method of ['get', 'put', 'post', 'delete', 'patch'].filter((m) => !documented.includes(m))) {
        for (const headers of [alice.headers, {}]) {
          const before = await state();
          const res = await send(t.port, {
            method: method.toUpperCase(),
            path: concrete,
            headers,
            valid: false,
            why: '',
            exchange: { path: {}, query: {} },
          });
          const name = `${method} ${path}`;
          expect(res.status, name).to.equal(405);
          const allow = String(res.headers.allow)
            .split(/,\s*/)
            .filter((m) => m !== 'HEAD' && m !== 'OPTIONS');
          expect(allow.sort(), name).to.deep.equal(documented.map((m) => m.toUpperCase()).sort());
          const body = JSON.parse(res.body.toString());
          expect(conforms(response.content!['application/json'].schema, body), name).to.equal(true);
          expect(errorCodes(response)).to.include(body.error);
          expect(res.headers['x-request-id'], name).to.be.a('string');
          expect(await state(), name).to.deep.equal(before);
        }
      }
    }
  });
});
