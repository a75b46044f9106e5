import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MigrationSource } from '../../src/db/migration-source';
import { freshDatabase } from '../support/test-app';

const root = path.resolve(__dirname, '../..');

/** Every migration's name, in order, as knex records it. */
async function migrationNames(): Promise<string[]> {
  const source = new MigrationSource();
  return (await source.getMigrations()).map((m) => source.getMigrationName(m));
}

describe('migrations by hand', function () {
  this.timeout(30_000);
  let dir: string;
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-migrate-cmd-'));
    database = await freshDatabase(dir);
  });
  afterEach(async () => {
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
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
