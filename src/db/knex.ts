import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { Config } from '../config';
import { MigrationSource } from './migration-source';
import { holdConnection } from './sqlite-lane';
import { checkpointOffThread } from './wal-checkpointer';

export type Db = Knex;

// int8 columns (epoch-millisecond times, sizes, counts) as numbers, as SQLite returns them. Every value
// pushpic stores in one is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The knex settings for a config: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file. */
export function knexConfig(
  database: Config['database'],
  onSqliteConnection?: (conn: BetterSqlite3.Database) => void,
): Knex.Config {
  const migrations: Knex.MigratorConfig = { migrationSource: new MigrationSource() };
  if (database.url) {
    return {
      client: 'pg',
      connection: database.url,
      searchPath: database.schema ? [database.schema] : undefined,
      pool: { min: 0, max: 10 },
      migrations,
    };
  }
  return {
    client: 'better-sqlite3',
    connection: { filename: database.sqliteFile },
    useNullAsDefault: true,
    // One connection: SQLite serialises writers anyway, and one connection never meets SQLITE_BUSY.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: BetterSqlite3.Database, done: (err: Error | null, c: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('synchronous = NORMAL');
          checkpointOffThread(conn);
          onSqliteConnection?.(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
    migrations,
  };
}

export function createDb(database: Config['database']): Db {
  if (!database.url) fs.mkdirSync(path.dirname(database.sqliteFile), { recursive: true });
  // The hot statements' lane (sqlite-lane.ts) runs on knex's own SQLite connection.
  const db: Db = knexFactory(knexConfig(database, (conn) => holdConnection(db, conn)));
  return db;
}

/** True when a write failed on a unique constraint, in SQLite or PostgreSQL. */
/** A row that refers to a row that does not exist (a foreign key), on PostgreSQL or SQLite. */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return (
    e?.code === '23505' ||
    (e?.code?.startsWith('SQLITE_CONSTRAINT') === true && /UNIQUE/i.test(e.message ?? ''))
  );
}
