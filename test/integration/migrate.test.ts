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

  it('undoes every migration with its down and applies them again, on a database holding data', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-migrate-'));
    const database = await freshDatabase(dir);
    const db = createDb(loadConfig({ ...database.env, UPLOAD_DIR: dir }).database);
    try {
      await db.migrate.latest();
      const [{ id: uid }] = await db('users')
        .insert({
          cid: 'c',
          ukey_hash: 'h',
          region_num: '86',
          phone_num: '+8613800138000',
          phone_hash: 'p',
          nickname: 'n',
          reg_time: 1,
        })
        .returning('id');
      const [{ id: messageId }] = await db('messages')
        .insert({
          sender_uid: uid,
          receiver_uid: uid,
          message_key: 'k'.repeat(64),
          send_time: 1,
          exist: true,
          filetype: 'image/jpeg',
          size: 1,
        })
        .returning('id');
      await db('push_jobs').insert({
        message_id: messageId,
        state: 'pending',
        due_at: 1,
        created_at: 1,
        updated_at: 1,
      });
      // One migration at a time, newest first, each down on a database that holds rows.
      const source = new MigrationSource();
      const all = await source.getMigrations();
      for (let left = all.length; left > 0; left--) {
        await db.migrate.down();
        expect(await db('knex_migrations').count({ n: '*' }).first()).to.deep.equal({ n: left - 1 });
      }
      for (const table of ['users', 'messages', 'push_jobs', 'rate_limits', 'database_identity']) {
        expect(await db.schema.hasTable(table), table).to.equal(false);
      }
      await db.migrate.latest();
      expect(await db('knex_migrations').count({ n: '*' }).first()).to.deep.equal({ n: all.length });
    } finally {
      await db.destroy();
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
