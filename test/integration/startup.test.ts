import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { PostgresStandin } from '../support/postgres-standin';
import { buildOnce } from '../support/build';
import { COMPILED, runUntilExit, spawnServer, type Finished } from '../support/server-process';
import { freshDatabase, TEST_DATABASE_URL } from '../support/test-app';

/** Root ignores file modes: an unwritable folder is tested as the unprivileged user. */
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** A start refused the way the README promises: exit 78, one line naming the setting, no stack trace. */
function expectRefused(res: Finished, setting: string): string {
  expect(res.status, res.stderr).to.equal(78);
  const lines = res.stderr.trim().split('\n');
  expect(lines, res.stderr).to.have.length(1);
  expect(lines[0]).to.include(`${setting}:`);
  expect(res.stderr).not.to.match(/\n\s+at /);
  // Whatever was logged before is the JSON log, knex's messages included.
  for (const line of res.stdout.split('\n').filter(Boolean))
    expect(() => JSON.parse(line), line).not.to.throw();
  return lines[0];
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The compiled server (faster to start than from source, and what production runs). */
const startCompiled = (env: Record<string, string>, user: { uid?: number; gid?: number } = {}) =>
  runUntilExit(env, { ...user, command: COMPILED });

describe('start-up that cannot happen: one line naming the setting, exit 78', function () {
  this.timeout(30_000);
  let dir: string;
  let env: Record<string, string>;

  before(function () {
    this.timeout(120_000);
    buildOnce();
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-startup-'));
    fs.chmodSync(dir, 0o755);
    env = {
      SQLITE_FILE: path.join(dir, 'data', 'pushpic.sqlite'),
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOG_LEVEL: 'debug',
    };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('DATABASE_URL that is not a URL', async () => {
    const line = expectRefused(await startCompiled({ ...env, DATABASE_URL: 'not-a-url' }), 'DATABASE_URL');
    expect(line).to.include('must be a PostgreSQL URL').and.not.include('user name');
  });

  it('DATABASE_URL at a closed port: tried again for DATABASE_CONNECT_TIMEOUT, then refused', async () => {
    const port = await closedPort();
    const res = await startCompiled({
      ...env,
      DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/pushpic`,
      DATABASE_CONNECT_TIMEOUT: '250ms',
    });
    const line = expectRefused(res, 'DATABASE_URL');
    expect(line)
      .to.include(`127.0.0.1:${port}`)
      .and.include('ECONNREFUSED')
      .and.include('DATABASE_CONNECT_TIMEOUT=250ms')
      .and.not.include('secret');
    expect(res.stdout).to.include('"event":"db.waiting"');
    expect(res.stdout, 'knex logs through the JSON log').to.include('"event":"db.knex_warning"');
  });

  it('a database still starting up (57P03) is waited for, then refused once the wait is over', async () => {
    const pg = await new PostgresStandin(['starting']).start();
    try {
      const res = await startCompiled({ ...env, DATABASE_URL: pg.url(), DATABASE_CONNECT_TIMEOUT: '300ms' });
      expect(expectRefused(res, 'DATABASE_URL'))
        .to.include('the database system is starting up')
        .and.include('DATABASE_CONNECT_TIMEOUT=300ms');
      expect(pg.connections, 'connections tried').to.be.at.least(2);
    } finally {
      await pg.close();
    }
  });

  it('a refused password is not tried again', async () => {
    const pg = await new PostgresStandin(['bad-password']).start();
    try {
      // With the default 30 s wait: a retry would outlast this test.
      const res = await startCompiled({ ...env, DATABASE_URL: pg.url() });
      expect(expectRefused(res, 'DATABASE_URL')).to.include('password for user "postgres" was refused');
      expect(pg.connections).to.equal(1);
    } finally {
      await pg.close();
    }
  });

  it('MIGRATE_ON_START=false on a database its migrations have not reached', async () => {
    const line = expectRefused(
      await startCompiled({ ...env, MIGRATE_ON_START: 'false' }),
      'MIGRATE_ON_START',
    );
    expect(line).to.include('npm run migrate -- latest');
  });

  it('HOST that is not an address', async () => {
    expect(expectRefused(await startCompiled({ ...env, HOST: '999.1.1.1' }), 'HOST')).to.include('999.1.1.1');
  });

  it('UPLOAD_DIR that is a file', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    expect(expectRefused(await startCompiled({ ...env, UPLOAD_DIR: file }), 'UPLOAD_DIR')).to.include(
      `${file} is not a folder`,
    );
  });

  it('UPLOAD_DIR that is not writable', async () => {
    const uploads = path.join(dir, 'read-only');
    fs.mkdirSync(uploads, { mode: 0o555 });
    fs.chmodSync(uploads, 0o555);
    const res = await startCompiled({ ...env, UPLOAD_DIR: uploads }, UNPRIVILEGED);
    expect(expectRefused(res, 'UPLOAD_DIR')).to.include(`${uploads} is not writable`);
  });

  it('SQLITE_FILE that cannot be written, named with its path', async () => {
    const uploads = path.join(dir, 'uploads');
    fs.mkdirSync(uploads);
    fs.chmodSync(uploads, 0o777);
    const data = path.join(dir, 'read-only');
    fs.mkdirSync(data);
    fs.chmodSync(data, 0o555);
    const file = path.join(data, 'pushpic.sqlite');
    const res = await startCompiled({ ...env, UPLOAD_DIR: uploads, SQLITE_FILE: file }, UNPRIVILEGED);
    expect(expectRefused(res, 'SQLITE_FILE')).to.include(file);
  });

  describe('on PostgreSQL', () => {
    before(function () {
      if (!TEST_DATABASE_URL) this.skip();
    });

    it('a missing database, with how to create it', async () => {
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = '/pushpic_no_such_database';
      const line = expectRefused(await startCompiled({ ...env, DATABASE_URL: url.href }), 'DATABASE_URL');
      expect(line).to.include('"pushpic_no_such_database" does not exist').and.include('CREATE DATABASE');
    });

    it('a missing DATABASE_SCHEMA, with how to create it', async () => {
      const res = await startCompiled({
        ...env,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: 'pushpic_no_such_schema',
      });
      expect(expectRefused(res, 'DATABASE_SCHEMA'))
        .to.include('"pushpic_no_such_schema" does not exist')
        .and.include('CREATE SCHEMA');
    });

    it('a database that finishes starting up within DATABASE_CONNECT_TIMEOUT is waited for', async () => {
      const database = await freshDatabase(dir);
      const pg = await new PostgresStandin(
        ['starting', 'starting', 'proxy'],
        new URL(TEST_DATABASE_URL),
      ).start();
      try {
        const server = await spawnServer({ ...env, ...database.env, DATABASE_URL: pg.url() }, COMPILED);
        expect(server.logs.filter((l) => l.event === 'db.waiting')).to.have.length(2);
        server.proc.kill('SIGTERM');
        expect(await server.exited).to.equal(0);
      } finally {
        await pg.close();
        await database.drop();
      }
    });
  });
});
