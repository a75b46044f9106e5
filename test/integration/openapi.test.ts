import crypto from 'node:crypto';
import { expect } from 'chai';
import { appRouter } from '../../src/http/app';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser, type TestUser } from '../support/factories';
import { makeImage } from '../support/images';
import {
  conforms,
  deref,
  errorCodes,
  evaluate,
  operations,
  type Exchange,
  type Json,
  type OpenApiDoc,
  type Operation,
} from '../support/openapi-doc';

/** Redocly's programmatic linter (an ES module) on the served document. */
async function lint(doc: OpenApiDoc) {
  const { createConfig, lintFromString } = await import('@redocly/openapi-core');
  const config = await createConfig({
    extends: ['recommended'],
    rules: {
      // Beyond the recommended set: what a client generator and its users need.
      'operation-description': 'error',
      'operation-summary': 'error',
      'operation-tag-defined': 'error',
      'tag-description': 'error',
      'no-invalid-schema-examples': 'error',
      'no-invalid-parameter-examples': 'error',
      'response-contains-header': {
        severity: 'error',
        names: { '2XX': ['X-Request-Id'], '4XX': ['X-Request-Id'] },
      },
    },
  });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
  return problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
}

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDoc;
  let ops: Operation[];
  before(async () => {
    t = await startTestApp();
    const res = await t.api.get('/openapi.json');
    expect(res.status).to.equal(200);
    doc = res.body;
    ops = operations(doc);
  });
  after(() => t.close());

  it('is OpenAPI 3 and describes every route the app mounts, and nothing else', () => {
    expect(doc.openapi).to.match(/^3\./);
    const mounted = appRouter(t.services).stack.flatMap((layer) =>
      layer.methods
        .filter((m) => m !== 'HEAD')
        .map((m) => `${m.toLowerCase()} ${String(layer.path).replace(/:([a-z_]+)/g, '{$1}')}`),
    );
    const described = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m} ${path}`),
    );
    expect(mounted.length).to.be.at.least(10);
    expect(described.sort()).to.deep.equal([...new Set(mounted)].sort());
  });

  it('passes the Redocly linter: no errors, and no warning but the 405 answer no operation can name', async () => {
    // MethodNotAllowed answers a method the path does not take, so no operation of the path can list it;
    // info.description points to it.
    expect(await lint(doc)).to.deep.equal([
      'warn no-unused-components #/components/responses/MethodNotAllowed: Component: "MethodNotAllowed" is never used.',
    ]);
  });

  it('names every operation and declares 401 with the credential pair on every authenticated one', () => {
    const ids = ops.map((o) => o.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const o of ops) {
      const name = `${o.method} ${o.path}`;
      expect(o.op.tags, name).to.have.length(1);
      const authenticated = o.security.length > 0 && o.security.every((s) => Object.keys(s).length > 0);
      expect(authenticated, name).to.equal(o.path.startsWith('/v1/') && o.path !== '/v1/register');
      if (authenticated) {
        expect(o.security, name).to.deep.include({ phoneHash: [], ukey: [] });
        expect(errorCodes(o.responses['401']), name).to.deep.equal(['unauthorized']);
      }
      for (const [status, response] of Object.entries(o.responses)) {
        expect(response.headers?.['X-Request-Id']?.required, `${name} ${status}`).to.equal(true);
      }
    }
  });

  it('puts the metrics token on /metrics as its own scheme, required when METRICS_TOKEN is set', async () => {
    const guarded = await startTestApp({ METRICS_TOKEN: 'metrics-secret' });
    try {
      const served: OpenApiDoc = (await guarded.api.get('/openapi.json')).body;
      const metrics = operations(served).find((o) => o.id === 'getMetrics')!;
      expect(metrics.security).to.deep.equal([{ metricsToken: [] }]);
      expect(served.components.securitySchemes.metricsToken).to.include({ type: 'http', scheme: 'bearer' });
      expect(errorCodes(metrics.responses['401'])).to.deep.equal(['unauthorized']);
      expect((await guarded.api.get('/metrics')).status).to.equal(401);
      const open = operations(doc).find((o) => o.id === 'getMetrics')!;
      expect(open.security).to.deep.equal([{ metricsToken: [] }, {}]);
    } finally {
      await guarded.close();
    }
  });

  it('has examples the server accepts', async () => {
    const register = doc.paths['/v1/register'].post;
    const example = deref(doc, register).requestBody as { content: Record<string, { example: Json }> };
    const registered = await t.api.post('/v1/register').send(example.content['application/json'].example);
    expect(registered.status, JSON.stringify(registered.body)).to.equal(201);

    // The example's receiver_uid is 2: the example registration above is uid 1, the receiver is next.
    const send = ops.find((o) => o.id === 'sendMessage')!;
    const form = send.requestBody!.content['multipart/form-data'];
    expect(conforms(form.schema, form.example), 'the form example fits its schema').to.equal(true);
    const receiver = await buildUser(t.api);
    expect(receiver.uid).to.equal(Number(form.example!.receiver_uid));
    const user = await buildUser(t.api);

    const cid = ops.find((o) => o.id === 'replaceCid')!.requestBody!.content['application/json'].example!;
    expect((await t.api.put('/v1/me/cid').set(user.headers).send(cid)).status).to.equal(204);

    const req = t.api.post('/v1/messages').set(user.headers);
    for (const [k, v] of Object.entries(form.example!)) if (k !== 'img_file') req.field(k, String(v));
    const sent = await req.attach('img_file', await makeImage('png'), 'x.png');
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
  });

  it('links operations to operations that exist, by parameters they have', () => {
    const byId = new Map(ops.map((o) => [o.id, o]));
    let links = 0;
    for (const o of ops) {
      for (const response of Object.values(o.responses)) {
        for (const [name, link] of Object.entries(response.links ?? {})) {
          links += 1;
          const target = byId.get(link.operationId);
          expect(target, `${o.id} ${name}`).to.not.equal(undefined);
          for (const param of Object.keys(link.parameters ?? {})) {
            expect(
              target!.parameters.map((p) => p.name),
              `${o.id} ${name}`,
            ).to.include(param);
          }
          for (const field of Object.keys((link.requestBody ?? {}) as object)) {
            const schema = Object.values(target!.requestBody!.content)[0].schema;
            expect(Object.keys(schema.properties as object), `${o.id} ${name}`).to.include(field);
          }
        }
      }
    }
    expect(links).to.be.at.least(6);
  });

  it('lets a client walk register → send → list → download → delete by the links alone', async () => {
    const app = await startTestApp();
    try {
      const byId = new Map(ops.map((o) => [o.id, o]));
      const sender = await buildUser(app.api);
      const phone = `1391234${crypto.randomInt(1000, 9999)}`;
      const registerBody = { cid: 'walker-cid', region_num: '86', phone_num: phone, nickname: 'Walker' };
      const res = await app.api.post('/v1/register').send(registerBody);
      expect(res.status).to.equal(201);
      const walker: Pick<TestUser, 'headers'> = {
        headers: {
          'X-Phone-Hash': crypto.createHash('sha256').update(`+86${phone}`).digest('hex'),
          'X-Ukey': res.body.ukey,
        },
      };
      let exchange: Exchange = { request: { path: {}, query: {}, body: registerBody }, response: res };
      let from = byId.get('registerUser')!;
      let status = '201';
      const follow = async (linkName: string, who: Pick<TestUser, 'headers'>, expected: number) => {
        const link = from.responses[status].links![linkName];
        const target = byId.get(link.operationId)!;
        const path: Record<string, string> = {};
        const query: Record<string, string> = {};
        for (const [name, expr] of Object.entries(link.parameters ?? {})) {
          const where = target.parameters.find((p) => p.name === name)!.in;
          (where === 'path' ? path : query)[name] = String(evaluate(expr, exchange));
        }
        const url = target.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(path[name]));
        const req = app.api[target.method as 'get' | 'post' | 'delete'](url).query(query).set(who.headers);
        if (target.requestBody?.content['multipart/form-data']) {
          const fields = evaluate(link.requestBody ?? {}, exchange) as Record<string, string>;
          for (const [k, v] of Object.entries(fields)) req.field(k, v);
          req.attach('img_file', await makeImage('jpeg'), 'walk.jpg');
        }
        const answer = await req;
        expect(answer.status, `${target.id} ${JSON.stringify(answer.body)}`).to.equal(expected);
        exchange = { request: { path, query }, response: { body: answer.body } };
        from = target;
        status = String(expected);
        return answer;
      };
      await follow('sendMessage', sender, 201);
      await follow('listMessages', walker, 200);
      expect(exchange.response.body).to.have.nested.property('messages[0].sender_uid', sender.uid);
      const downloaded = await follow('downloadFirst', walker, 200);
      expect(downloaded.headers['content-type']).to.equal('image/jpeg');
      await follow('deleteMessage', walker, 204);
      const after = await app.api.get('/v1/messages').set(walker.headers);
      expect(after.body.messages).to.deep.equal([]);
    } finally {
      await app.close();
    }
  });

  it('answers 429 on every operation that declares it, with Retry-After and the declared code', async () => {
    const limited = await startTestApp({
      RATE_LIMIT_REGISTER_PER_IP: '1/1h',
      RATE_LIMIT_SEND_PER_USER: '1/1h',
      RATE_LIMIT_SEND_PER_IP: '1/1h',
    });
    try {
      const register = (phone: string) =>
        limited.services.registerUser({ cid: 'c', regionNum: '86', phoneNum: phone, nickname: 'N' });
      const sender = await register('13912340001');
      await register('13912340002');
      const headers = {
        'X-Phone-Hash': crypto.createHash('sha256').update('+8613912340001').digest('hex'),
        'X-Ukey': sender.ukey,
      };
      const declaring = ops.filter((o) => o.responses['429']);
      expect(declaring.map((o) => o.id).sort()).to.deep.equal(['registerUser', 'sendMessage']);
      for (const o of declaring) {
        const statuses: number[] = [];
        for (let i = 0; i < 2; i++) {
          const req = limited.api[o.method as 'post'](o.path).set(headers);
          const [type, media] = Object.entries(o.requestBody!.content)[0];
          const example = { ...(media.example as Json), receiver_uid: String(sender.uid + 1) };
          if (type === 'application/json')
            req.send({ ...(media.example as Json), phone_num: `1391235${i}000` });
          else {
            for (const [k, v] of Object.entries(example)) if (k !== 'img_file') req.field(k, String(v));
            req.attach('img_file', await makeImage('png'), 'x.png');
          }
          const res = await req;
          statuses.push(res.status);
          if (res.status !== 429) continue;
          const declared = o.responses['429'];
          expect(Number(res.headers['retry-after']), o.id).to.be.within(1, 3600);
          expect(res.headers['x-request-id'], o.id).to.be.a('string');
          expect(errorCodes(declared)).to.include(res.body.error);
          expect(conforms(declared.content!['application/json'].schema, res.body)).to.equal(true);
        }
        expect(statuses, o.id).to.deep.equal([201, 429]);
      }
    } finally {
      await limited.close();
    }
  });
});
