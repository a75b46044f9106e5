import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { ConfigError, type Config } from '../config';
import type { Logger } from '../logger';
import { MigrationSource } from './migration-source';
import { LaneHolder } from './sqlite-lane';
import { checkpointOffThread } from './wal-checkpointer';

export type Db = Knex;

// int8 columns (epoch-millisecond times, sizes, counts) as numbers, as SQLite returns them. Every value
// pushpic stores in one is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** knex's own messages (it prints them with console.log by default) as lines of the JSON log. */
function knexLog(logger: Logger): Knex.Config['log'] {
  const text = (message: unknown) => (typeof message === 'string' ? message : JSON.stringify(message));
  return {
    warn(message: unknown) {
      // A failed connect is also rejected to whoever asked for the connection, who reports it: at warn,
      // every failed attempt would be logged twice, once with knex's stack.
      if (text(message).startsWith('Acquire connection error'))
        logger.debug({ event: 'db.knex_warning' }, text(message));
      else logger.warn({ event: 'db.knex_warning' }, text(message));
    },
    error: (message: unknown) => logger.error({ event: 'db.knex_error' }, text(message)),
    deprecate: (message: unknown) => logger.warn({ event: 'db.knex_deprecation' }, text(message)),
    debug: (message: unknown) => logger.debug({ event: 'db.knex_debug' }, text(message)),
  };
}

/** The knex settings for a config: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file. */
export function knexConfig(
  database: Config['database'],
  onSqliteConnection?: (conn: BetterSqlite3.Database) => void,
  logger?: Logger,
): Knex.Config {
  const migrations: Knex.MigratorConfig = { migrationSource: new MigrationSource() };
  const log = logger ? knexLog(logger) : undefined;
  if (database.url) {
    return {
      client: 'pg',
      connection: database.url,
      searchPath: database.schema ? [database.schema] : undefined,
      pool: { min: 0, max: 10 },
      migrations,
      log,
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
    log,
  };
}

/** SQLite creates the database file but not its folder. */
function makeSqliteFolder(file: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    throw new ConfigError([`SQLITE_FILE: cannot create the folder of ${file}: ${(err as Error).message}`]);
  }
}

/**
 * The database as the repositories use it: knex, and on SQLite the lane of the hot statements, which
 * runs on knex's own connection (./sqlite-lane.ts).
 */
export interface Database {
  readonly knex: Db;
  readonly lane: LaneHolder;
}

/** The database; nothing connects until the first query. With a logger, knex's messages go to it. */
export function createDatabase(database: Config['database'], logger?: Logger): Database {
  if (!database.url) makeSqliteFolder(database.sqliteFile);
  const lane = new LaneHolder();
  return { knex: knexFactory(knexConfig(database, (conn) => lane.hold(conn), logger)), lane };
}

/** A database on a knex handle without the lane: its repositories go through knex (ops commands, tests). */
export function withoutLane(knex: Db): Database {
  return { knex, lane: new LaneHolder() };
}

/** A knex handle alone, for what needs no lane (migrations, the ops commands, tests). */
export function createDb(database: Config['database'], logger?: Logger): Db {
  return createDatabase(database, logger).knex;
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
