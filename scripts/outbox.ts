// `npm run outbox` (or `node dist/scripts/outbox.js`): what the push outbox holds, for ops; see HELP.
import fs from 'node:fs';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connect';
import { createDb, withoutLane } from '../src/db/knex';
import { createLogger } from '../src/logger';
import { EX_USAGE, runCommand } from './cli';
import { pushJobsRepository, type OutboxStats, type PushJob } from '../src/db/push-jobs-repository';

const iso = (ms: number) => new Date(ms).toISOString();

function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const parts = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ] as const;
  const shown = parts.filter(([n]) => n > 0).slice(0, 2);
  return shown.length ? shown.map(([n, u]) => `${n}${u}`).join(' ') : '0s';
}

function describeJob(job: PushJob): string {
  return `job ${job.jobId} (message ${job.messageId}, ${job.state}, ${job.attempts} attempt${job.attempts === 1 ? '' : 's'})`;
}

export function formatOutboxReport(stats: OutboxStats, now: number, database: string): string {
  const lines = [`push outbox of ${database} at ${iso(now)}`, '', 'jobs by state'];
  for (const [state, n] of Object.entries(stats.byState))
    lines.push(`  ${state.padEnd(8)} ${String(n).padStart(8)}`);
  lines.push('', `due now: ${stats.due}`);
  const parked = Object.entries(stats.parked);
  if (parked.length) {
    const by = parked.map(([provider, n]) => `${n} for ${provider}`).join(', ');
    lines.push(`parked on a provider outage (due as soon as it answers again): ${by}`);
  }
  lines.push(
    stats.oldestDue
      ? `oldest due: ${describeJob(stats.oldestDue)}, due since ${iso(stats.oldestDue.dueAt)} (${span(now - stats.oldestDue.dueAt)} ago)`
      : 'oldest due: none',
  );
  if (stats.nextDue) {
    lines.push(
      `next retry: ${describeJob(stats.nextDue)} at ${iso(stats.nextDue.dueAt)} (in ${span(stats.nextDue.dueAt - now)})`,
    );
  }
  lines.push('', stats.lastErrors.length ? 'last errors' : 'last errors: none');
  for (const job of stats.lastErrors) {
    lines.push(`  ${iso(job.updatedAt)}  ${describeJob(job)}: ${job.lastError}`);
  }
  return lines.join('\n');
}

export const HELP = `Usage: npm run outbox [-- --json]
   or: node dist/scripts/outbox.js [--json]

Prints what the push outbox holds: the jobs by state, how many are due, the oldest due job, the next
retry and the last errors. Changes nothing.

Options:
  --json  the same as JSON
  --help  this text

Reads the server's settings: DATABASE_URL and DATABASE_SCHEMA for PostgreSQL, else SQLITE_FILE;
DATABASE_CONNECT_TIMEOUT (how long to wait for a database that is starting up).

Exit status: 0 printed, 1 no outbox there yet, 64 wrong usage, 78 settings or a database that do not work.`;

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) {
    console.error(`Unknown arguments: ${unknown.join(' ')} (options: --json, --help)`);
    return EX_USAGE;
  }
  const config = loadConfig();
  const database = config.database.url ? 'postgresql (DATABASE_URL)' : `sqlite ${config.database.sqliteFile}`;
  if (!config.database.url && !fs.existsSync(config.database.sqliteFile)) {
    console.error(`No database at ${config.database.sqliteFile}: has the server run with these settings?`);
    return 1;
  }
  const logger = createLogger('warn', pino.destination(2)); // knex's messages, on stderr
  const db = createDb(config.database, logger);
  try {
    await connectDatabase(db, config.database, logger);
    if (!(await db.schema.hasTable('push_jobs'))) {
      console.error(
        'No push_jobs table: apply the migrations first (npm run migrate -- latest, or start the server).',
      );
      return 1;
    }
    const now = Date.now();
    const stats = await pushJobsRepository(withoutLane(db)).stats(now);
    console.log(
      args.includes('--json') ? JSON.stringify(stats, null, 2) : formatOutboxReport(stats, now, database),
    );
    return 0;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  runCommand(main, (err) => (err instanceof Error ? err.message : String(err)));
}
