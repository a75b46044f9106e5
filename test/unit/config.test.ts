import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';

describe('config', () => {
  it('runs with no settings at all on the embedded defaults', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(3000);
    expect(c.database.url).to.equal(null);
    expect(c.database.sqliteFile).to.equal(path.resolve('data/pushpic.sqlite'));
    expect(c.uploadDir).to.equal(path.resolve('uploads'));
    expect(c.maxUploadBytes).to.equal(10 * 1024 * 1024);
    expect(c.push.provider).to.equal('mock');
    expect(Object.isFrozen(c.database)).to.equal(true);
  });

  it('reports every bad setting at once', () => {
    try {
      loadConfig({ PORT: 'eighty', MAX_UPLOAD_BYTES: '-1', PUSH_PROVIDER: 'carrier-pigeon' });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).to.include('PORT').and.include('MAX_UPLOAD_BYTES').and.include('PUSH_PROVIDER');
    }
  });

  it('names in one message every missing setting of the chosen push provider', () => {
    for (const [provider, missing] of [
      ['getui', ['GETUI_APP_ID', 'GETUI_APP_KEY', 'GETUI_MASTER_SECRET']],
      ['fcm', ['FCM_SERVICE_ACCOUNT_FILE']],
    ] as const) {
      try {
        loadConfig({ PUSH_PROVIDER: provider, PORT: 'eighty' });
        expect.fail('should have thrown');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        const { problems } = err as ConfigError;
        expect(problems.join('\n')).to.include('PORT');
        const line = problems.find((p) => p.startsWith(`PUSH_PROVIDER=${provider}`))!;
        for (const name of missing) expect(line).to.include(name);
      }
    }
    expect(() => loadConfig({ PUSH_PROVIDER: 'getui', GETUI_APP_ID: 'a', GETUI_APP_KEY: 'k' })).to.throw(
      /GETUI_MASTER_SECRET/,
    );
  });

  it('reads the GeTui settings, with the public base URL by default', () => {
    const c = loadConfig({
      PUSH_PROVIDER: 'getui',
      GETUI_APP_ID: 'a',
      GETUI_APP_KEY: 'k',
      GETUI_MASTER_SECRET: 's',
    });
    expect(c.push.getui).to.deep.equal({
      appId: 'a',
      appKey: 'k',
      masterSecret: 's',
      baseUrl: 'https://restapi.getui.com/v2',
    });
    expect(c.push.fcm).to.equal(null);
    expect(c.push.ttlMs).to.equal(86_400_000);
  });

  it('refuses a push ttl beyond GeTui’s three days and a retry base above its cap', () => {
    expect(() => loadConfig({ PUSH_TTL_MS: String(4 * 86_400_000) })).to.throw(/PUSH_TTL_MS/);
    expect(() => loadConfig({ PUSH_RETRY_BASE_MS: '5000', PUSH_RETRY_MAX_MS: '1000' })).to.throw(
      /PUSH_RETRY_BASE_MS/,
    );
  });

  it('reads the image settings, with their defaults', () => {
    expect(loadConfig({}).images).to.deep.equal({
      maxPixels: 40_000_000,
      stripMetadata: true,
      preview: 'on',
      concurrency: 2,
    });
    const c = loadConfig({
      MAX_IMAGE_PIXELS: '1000',
      STRIP_METADATA: 'false',
      PUSH_PREVIEW: 'off',
      IMAGE_CONCURRENCY: '4',
    });
    expect(c.images).to.deep.equal({ maxPixels: 1000, stripMetadata: false, preview: 'off', concurrency: 4 });
    expect(loadConfig({ PUSH_PREVIEW: 'client' }).images.preview).to.equal('client');
    expect(loadConfig({ PUSH_PREVIEW: 'true' }).images.preview).to.equal('on');
    expect(() => loadConfig({ PUSH_PREVIEW: 'maybe', IMAGE_CONCURRENCY: '0' })).to.throw(
      /PUSH_PREVIEW[\s\S]*IMAGE_CONCURRENCY/,
    );
  });

  it('waits 30 s for the database by default, and takes only a PostgreSQL URL, never echoing it', () => {
    expect(loadConfig({}).database.connectTimeoutMs).to.equal(30_000);
    expect(loadConfig({ DATABASE_CONNECT_TIMEOUT: '250ms' }).database.connectTimeoutMs).to.equal(250);
    const url = 'postgresql://pushpic:secret@db:5432/pushpic';
    expect(loadConfig({ DATABASE_URL: url }).database.url).to.equal(url);
    for (const bad of ['not-a-url', 'mysql://root:secret@db/pushpic']) {
      expect(() => loadConfig({ DATABASE_URL: bad }))
        .to.throw(/^pushpic cannot start: DATABASE_URL: must be a PostgreSQL URL/)
        .with.property('message')
        .that.does.not.include('secret');
    }
  });
});
