import { expect } from 'chai';
import { appRouter } from '../../src/http/app';
import { startTestApp, type TestApp } from '../support/test-app';
import { buildUser } from '../support/factories';
import { makeImage } from '../support/images';

type Operation = {
  requestBody?: { content: Record<string, { example?: Record<string, unknown> }> };
  security?: unknown[];
};

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };
  before(async () => {
    t = await startTestApp();
    const res = await t.api.get('/openapi.json');
    expect(res.status).to.equal(200);
    doc = res.body;
  });
  after(() => t.close());

  it('is OpenAPI 3 and describes every route the app mounts, and nothing else', () => {
    expect(doc.openapi).to.match(/^3\./);
    const mounted = appRouter(t.services).stack.flatMap((layer) =>
      layer.methods
        .filter((m) => m !== 'HEAD')
        .map((m) => `${m.toLowerCase()} ${String(layer.path).replace(/:([a-z_]+)/g, '{$1}')}`),
    );
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(mounted.length).to.be.at.least(10);
    expect(described.sort()).to.deep.equal([...new Set(mounted)].sort());
  });

  it('gives every operation responses and marks every authenticated one', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect((op as { responses?: object }).responses, `${method} ${path}`).to.be.an('object');
        if (path.startsWith('/v1/') && path !== '/v1/register')
          expect(op.security, `${method} ${path}`).to.be.an('array');
      }
    }
  });

  it('has examples the server accepts', async () => {
    const register = doc.paths['/v1/register'].post.requestBody!.content['application/json'].example!;
    const registered = await t.api.post('/v1/register').send(register);
    expect(registered.status, JSON.stringify(registered.body)).to.equal(201);

    // The example's receiver_uid is 2: the example registration above is uid 1, the receiver is next.
    const fields = doc.paths['/v1/messages'].post.requestBody!.content['multipart/form-data'].example!;
    const receiver = await buildUser(t.api);
    expect(receiver.uid).to.equal(Number(fields.receiver_uid));
    const user = await buildUser(t.api);

    const cid = doc.paths['/v1/me/cid'].put.requestBody!.content['application/json'].example!;
    expect((await t.api.put('/v1/me/cid').set(user.headers).send(cid)).status).to.equal(204);

    const req = t.api.post('/v1/messages').set(user.headers);
    for (const [k, v] of Object.entries(fields)) req.field(k, String(v));
    const sent = await req.attach('img_file', await makeImage('png'), 'x.png');
    expect(sent.status, JSON.stringify(sent.body)).to.equal(201);
  });
});
