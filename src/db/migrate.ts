import type { Logger } from '../logger';
import type { Db } from './knex';
import { MigrationSource } from './migration-source';

/**
 * Runs a change of the schema while no other instance changes it. On PostgreSQL under an advisory lock held
 * for the whole run (per schema), because knex's own lock is not safe on a new database (two processes
 * creating its bookkeeping tables at once can leave the lock taken: knex/knex#3538, seen here as an instance
 * giving up after 30 s of "Migration table is already locked"); an instance that waited then finds nothing
 * to do. On SQLite (one host), a run that meets knex's lock or that race waits and tries again.
 */
async function takingTurns<T>(
  db: Db,
  logger: Logger,
  schema: string | null,
  run: () => Promise<T>,
): Promise<T> {
  if (db.client.config.client === 'pg') {
    return db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`pushpic:migrate:${schema ?? ''}`]);
      return run(); // on the pool's other connections; the lock ends with this transaction
    });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      // Racing for knex's lock, or to create its bookkeeping tables (knex_migrations, knex_migrations_lock).
      const racing = /already locked|[`"]knex_migrations(_lock)?[`"]/i;
      if (!racing.test(String((err as Error).message)) || attempt >= 60) throw err;
      logger.info({ event: 'db.migration_lock_wait' }, 'another instance is migrating; waiting');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Applies pending migrations, taking turns with other instances; returns the names applied. */
export async function migrateToLatest(db: Db, logger: Logger, schema: string | null): Promise<string[]> {
  return takingTurns(db, logger, schema, async () => {
    const [, applied] = (await db.migrate.latest()) as [number, string[]];
    logger.info({ event: 'db.migrated', applied }, 'migrations applied');
    return applied;
  });
}

/** Undoes the last batch of migrations (all: every migration), taking turns; returns the names undone. */
export async function rollbackMigrations(
  db: Db,
  logger: Logger,
  schema: string | null,
  all: boolean,
): Promise<string[]> {
  return takingTurns(db, logger, schema, async () => {
    const [, undone] = (await db.migrate.rollback(undefined, all)) as [number, string[]];
    logger.info({ event: 'db.rolled_back', undone }, 'migrations rolled back');
    return undone;
  });
}

export interface MigrationStatus {
  applied: { name: string; batch: number; at: Date }[];
  pending: string[];
  /** Recorded as applied but unknown to this code (a newer version migrated this database). */
  unknown: string[];
}

/**
 * What is applied and what is pending, read without writing anything: knex's own status creates its
 * bookkeeping tables first. db null: there is no database yet (an SQLite file not created), so every
 * migration is pending.
 */
export async function migrationStatus(db: Db | null): Promise<MigrationStatus> {
  const source = new MigrationSource();
  const names = (await source.getMigrations()).map((m) => source.getMigrationName(m));
  const rows: { name: string; batch: number; migration_time: Date | string | number }[] =
    db && (await db.schema.hasTable('knex_migrations'))
      ? await db('knex_migrations').select('name', 'batch', 'migration_time').orderBy('id')
      : [];
  const applied = rows.map((r) => ({ name: r.name, batch: r.batch, at: new Date(r.migration_time) }));
  const done = new Set(applied.map((a) => a.name));
  const known = new Set(names);
  return {
    applied,
    pending: names.filter((n) => !done.has(n)),
    unknown: applied.filter((a) => !known.has(a.name)).map((a) => a.name),
  };
}
