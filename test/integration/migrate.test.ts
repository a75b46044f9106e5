import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { migrateToLatest } from '../../src/db/migrate';
import { MigrationSource } from '../../src/db/migration-source';
import { createLogger } from '../../src/logger';
import { LogSink } from '../support/log-sink';
import { freshDatabase } from '../support/test-app';

describe('migrations at start', () => {
  it('applies each migration once when several instances start together on a new database', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-migrate-'));
    const database = await freshDatabase(dir);
    const config = loadConfig({ ...database.env, UPLOAD_DIR: dir });
    const dbs = Array.from({ length: 6 }, () => createDb(config.database));
    try {
      const logger = createLogger('silent', new LogSink());
      await Promise.all(dbs.map((db) => migrateToLatest(db, logger, config.database.schema)));
      const applied = await dbs[0]('knex_migrations').orderBy('id').pluck('name');
      const source = new MigrationSource();
      const all = (await source.getMigrations()).map((f) => source.getMigrationName(f));
      expect(applied).to.deep.equal(all);
      expect(await dbs[0]('knex_migrations_lock').select('is_locked')).to.deep.equal([{ is_locked: 0 }]);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
