import type { Logger } from '../logger';
import type { Db } from './knex';

/**
 * Applies pending migrations. Instances that start together take turns: on PostgreSQL under an advisory
 * lock held for the whole run (per schema), because knex's own lock is not safe on a new database (two
 * processes creating its bookkeeping tables at once can leave the lock taken: knex/knex#3538, seen here as
 * an instance giving up after 30 s of "Migration table is already locked"); an instance that waited then
 * finds nothing to do. On SQLite (one host), a start that meets knex's lock or that race waits and tries again.
 */
export async function migrateToLatest(db: Db, logger: Logger, schema: string | null): Promise<void> {
  if (db.client.config.client === 'pg') {
    await db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`pushpic:migrate:${schema ?? ''}`]);
      await latest(db, logger); // on the pool's other connections; the lock ends with this transaction
    });
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await latest(db, logger);
    } catch (err) {
      // Racing for knex's lock, or to create its bookkeeping tables (knex_migrations, knex_migrations_lock).
      const racing = /already locked|[`"]knex_migrations(_lock)?[`"]/i;
      if (!racing.test(String((err as Error).message)) || attempt >= 60) throw err;
      logger.info({ event: 'db.migration_lock_wait' }, 'another instance is migrating; waiting');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function latest(db: Db, logger: Logger): Promise<void> {
  const [, applied] = await db.migrate.latest();
  logger.info({ event: 'db.migrated', applied }, 'migrations applied');
}
