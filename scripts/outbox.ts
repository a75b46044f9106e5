// `npm run outbox`: what the push outbox holds, for ops. Reads the same settings as the server
// (DATABASE_URL, or SQLITE_FILE); changes nothing. `npm run outbox -- --json` prints the same as JSON.
import fs from 'node:fs';
import { loadConfig } from '../src/config';
import { createDb } from '../src/db/knex';
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

async function main(): Promise<number> {
  const config = loadConfig();
  const database = config.database.url ? 'postgresql (DATABASE_URL)' : `sqlite ${config.database.sqliteFile}`;
  if (!config.database.url && !fs.existsSync(config.database.sqliteFile)) {
    console.error(`No database at ${config.database.sqliteFile}: has the server run with these settings?`);
    return 1;
  }
  const db = createDb(config.database);
  try {
    if (!(await db.schema.hasTable('push_jobs'))) {
      console.error(
        'No push_jobs table: apply migrations first (npx knex migrate:latest, or start the server).',
      );
      return 1;
    }
    const now = Date.now();
    const stats = await pushJobsRepository(db).stats(now);
    console.log(
      process.argv.includes('--json')
        ? JSON.stringify(stats, null, 2)
        : formatOutboxReport(stats, now, database),
    );
    return 0;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
