import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { createDb, type Db } from '../../src/db/knex';
import { MigrationSource } from '../../src/db/migration-source';
import { buildOnce } from '../support/build';
import { freshDatabase, TEST_DATABASE_URL } from '../support/test-app';

const root = path.resolve(__dirname, '../..');

/** Every migration's name, in order, as knex records it. */
async function migrationNames(): Promise<string[]> {
  const source = new MigrationSource();
  return (await source.getMigrations()).map((m) => source.getMigrationName(m));
}

/** `node dist/scripts/migrate.js ...`, the compiled command ops run, with only the given settings. */
function migrate(env: Record<string, string>, ...args: string[]) {
  return spawnSync(process.execPath, ['dist/scripts/migrate.js', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

/** The tables in the database (SQLite) or in the test's schema (PostgreSQL). */
async function tables(db: Db): Promise<string[]> {
  if (db.client.config.client === 'pg') {
    return db('information_schema.tables')
      .where('table_schema', db.raw('current_schema()'))
      .pluck('table_name');
  }
  return db('sqlite_master').where({ type: 'table' }).pluck('name');
}

/** The names listed under a heading of `status` ("applied: 3", then one indented line each). */
function listed(stdout: string, heading: 'applied' | 'pending'): string[] {
  const section = stdout.split('\n\n').find((s) => s.startsWith(`${heading}: `)) ?? '';
  return section
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.trim().split(/\s+/)[0]);
}

describe('migrations by hand', function () {
  this.timeout(30_000);
  let dir: string;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Db | undefined;

  before(function () {
    this.timeout(120_000);
    buildOnce();
  });
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-migrate-cmd-'));
    database = await freshDatabase(dir);
  });
  afterEach(async () => {
    await db?.destroy();
    db = undefined;
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('status lists every migration as pending and creates nothing, not even the database file', async () => {
    const res = migrate(database.env, 'status');
    expect(res.status, res.stderr).to.equal(0);
    expect(listed(res.stdout, 'pending')).to.deep.equal(await migrationNames());
    expect(listed(res.stdout, 'applied')).to.deep.equal([]);
    if (TEST_DATABASE_URL) {
      db = createDb(loadConfig(database.env).database);
      expect(await tables(db)).to.deep.equal([]);
    } else {
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    }
  });

  it('latest applies, status lists by name, rollback undoes the last batch, --all the rest', async () => {
    const names = await migrationNames();
    db = createDb(loadConfig(database.env).database);
    await db.migrate.up(); // batch 1: the first migration only
    const before = await tables(db);

    const latest = migrate(database.env, 'latest');
    expect(latest.status, latest.stderr).to.equal(0);
    expect(latest.stdout).to.include(`applied: ${names.slice(1).join(', ')}`);
    const status = migrate(database.env, 'status');
    expect(listed(status.stdout, 'applied')).to.deep.equal(names);
    expect(listed(status.stdout, 'pending')).to.deep.equal([]);
    expect(status.stdout).to.match(new RegExp(`${names[0]}\\s+batch 1`));
    expect(status.stdout).to.match(new RegExp(`${names.at(-1)}\\s+batch 2`));
    expect(migrate(database.env, 'latest').stdout).to.include('nothing to apply');

    const rollback = migrate(database.env, 'rollback');
    expect(rollback.status, rollback.stderr).to.equal(0);
    expect(listed(migrate(database.env, 'status').stdout, 'pending')).to.deep.equal(names.slice(1));
    expect(await tables(db)).to.have.members(before);

    expect(migrate(database.env, 'rollback', '--all').status).to.equal(0);
    expect(listed(migrate(database.env, 'status').stdout, 'pending')).to.deep.equal(names);
    expect((await tables(db)).filter((t) => !/^(knex_migrations|sqlite_)/.test(t))).to.deep.equal([]);
  });

  it('--help lists the commands and the settings; a wrong command is exit 64', () => {
    const help = migrate({}, '--help');
    expect(help.status).to.equal(0);
    for (const word of ['status', 'latest', 'rollback --all', 'DATABASE_URL', 'SQLITE_FILE'])
      expect(help.stdout).to.include(word);
    const wrong = migrate({}, 'sideways');
    expect(wrong.status).to.equal(64);
    expect(wrong.stderr.trim().split('\n')).to.have.length(1);
  });

  it('a missing schema is one line naming DATABASE_SCHEMA', function () {
    if (!TEST_DATABASE_URL) this.skip();
    const res = migrate(
      { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: 'pushpic_no_such_schema' },
      'status',
    );
    expect(res.status).to.equal(78);
    const lines = res.stderr.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0])
      .to.match(/^DATABASE_SCHEMA: schema "pushpic_no_such_schema" does not exist/)
      .and.include('CREATE SCHEMA');
  });

  it('npx knex migrate:status lists the pending migrations by file name', async () => {
    const res = spawnSync(process.execPath, [require.resolve('knex/bin/cli.js'), 'migrate:status'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...database.env },
      encoding: 'utf8',
    });
    expect(res.status, res.stderr).to.equal(0);
    expect(res.stdout).not.to.include('undefined');
    for (const name of await migrationNames()) expect(res.stdout).to.include(`${name}.ts`);
  });
});
