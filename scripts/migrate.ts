// `npm run migrate -- <command>` (or `node dist/scripts/migrate.js <command>`): the schema migrations,
// for ops, from the compiled code; no dev dependency needed. Same settings and same turn-taking as the
// server's migrations at start.
import fs from 'node:fs';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config';
import { connectDatabase, describeTarget } from '../src/db/connect';
import { createDb, type Db } from '../src/db/knex';
import { migrateToLatest, migrationStatus, rollbackMigrations } from '../src/db/migrate';
import { createLogger } from '../src/logger';
import { EX_USAGE, runCommand } from './cli';

export const HELP = `Usage: npm run migrate -- <command>
   or: node dist/scripts/migrate.js <command>

Commands:
  status          list the applied and the pending migrations (changes nothing)
  latest          apply every pending migration
  rollback        undo the last batch of migrations
  rollback --all  undo every migration
  --help          this text

Reads the server's settings: DATABASE_URL and DATABASE_SCHEMA for PostgreSQL, else SQLITE_FILE;
DATABASE_CONNECT_TIMEOUT (how long to wait for a database that is starting up). Instances migrating
at the same time take turns, as at start (on PostgreSQL under an advisory lock per schema).

Exit status: 0 done, 64 wrong usage, 78 settings or a database that do not work, 1 a migration failed.`;

function where({ url, schema, sqliteFile }: Config['database']): string {
  if (!url) return `sqlite ${sqliteFile}`;
  const target = describeTarget(url);
  return `postgresql ${target.where}/${target.name}${schema ? `, schema ${schema}` : ''}`;
}

async function status(db: Db | null, config: Config): Promise<void> {
  const { applied, pending, unknown } = await migrationStatus(db);
  const lines = [`migrations of ${where(config.database)}`];
  if (!db) lines.push('(no database file yet: the server or `latest` creates it)');
  lines.push('', `applied: ${applied.length}`);
  for (const a of applied) lines.push(`  ${a.name}  batch ${a.batch}, ${a.at.toISOString()}`);
  lines.push('', `pending: ${pending.length}`);
  for (const name of pending) lines.push(`  ${name}`);
  if (unknown.length) {
    lines.push('', `applied but not in this version of pushpic: ${unknown.length}`);
    for (const name of unknown) lines.push(`  ${name}`);
  }
  console.log(lines.join('\n'));
}

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return 0;
  }
  const usage = (problem: string) => {
    console.error(`${problem} (commands: status, latest, rollback [--all]; --help for more)`);
    return EX_USAGE;
  };
  if (!command) return usage('No command given.');
  if (!['status', 'latest', 'rollback'].includes(command)) return usage(`Unknown command: ${command}`);
  const all = command === 'rollback' && rest.length === 1 && rest[0] === '--all';
  if (rest.length && !all) return usage(`Unknown arguments: ${rest.join(' ')}`);

  const config = loadConfig();
  // Progress and knex's messages on stderr (JSON, as the server logs them); the results on stdout.
  const logger = createLogger('warn', pino.destination(2));
  const { database } = config;
  if (command === 'status' && !database.url && !fs.existsSync(database.sqliteFile)) {
    await status(null, config); // reading must not create the file
    return 0;
  }
  const db = createDb(database, logger);
  try {
    await connectDatabase(db, database, logger);
    if (command === 'status') {
      await status(db, config);
    } else if (command === 'latest') {
      const applied = await migrateToLatest(db, logger, database.schema);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'nothing to apply: up to date');
    } else {
      const undone = await rollbackMigrations(db, logger, database.schema, all);
      console.log(undone.length ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back');
    }
    return 0;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  runCommand(main, (err) => `migration failed: ${err instanceof Error ? err.stack : String(err)}`);
}
