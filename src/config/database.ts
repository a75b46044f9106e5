import path from 'node:path';
import { z } from 'zod';
import { bool, duration, section } from './values';

export const database = section({
  settings: {
    /** PostgreSQL connection string. Empty means the embedded SQLite database at SQLITE_FILE. */
    DATABASE_URL: z
      .string()
      .refine(
        (v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v),
        // Never the value itself: it may carry a password.
        'must be a PostgreSQL URL such as postgres://user:password@host:5432/database',
      )
      .or(z.literal(''))
      .default(''),
    /** PostgreSQL schema to use (search_path); empty means the server's default (public). */
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier')
      .or(z.literal(''))
      .default(''),
    SQLITE_FILE: z.string().default('./data/pushpic.sqlite'),
    MIGRATE_ON_START: bool.default(true),
    /** How long start-up waits for a database that refuses connections or is still starting up. */
    DATABASE_CONNECT_TIMEOUT: duration.prefault('30s'),
  },
  build: (s) => ({
    database: {
      url: s.DATABASE_URL || null,
      schema: s.DATABASE_SCHEMA || null,
      sqliteFile: path.resolve(s.SQLITE_FILE),
      migrateOnStart: s.MIGRATE_ON_START,
      connectTimeoutMs: s.DATABASE_CONNECT_TIMEOUT,
    },
  }),
});
