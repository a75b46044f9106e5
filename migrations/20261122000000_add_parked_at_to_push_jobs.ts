import type { Knex } from 'knex';

/**
 * push_jobs.parked_at: set when a job went back to pending because its provider was down (an outage, not
 * a problem of the job). When any instance sees that provider answer again, it makes every parked job of
 * it due at once (one UPDATE over the partial index), instead of each waiting out its own back-off.
 * Existing rows are not parked: NULL.
 */
const INDEX = 'push_jobs_parked_idx';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_jobs', (t) => {
    t.bigInteger('parked_at').nullable();
  });
  // Partial: only the jobs waiting out an outage have an entry, so the release and the probe's pick
  // cost nothing while the provider is up. Both databases take the same statement.
  await knex.raw(`create index ${INDEX} on push_jobs (provider, due_at) where parked_at is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index ${INDEX}`);
  if (knex.client.config.client === 'sqlite3' || knex.client.config.client === 'better-sqlite3') {
    // knex's SQLite dropColumn copies the table; SQLite 3.35+ drops a plain, unindexed column in place.
    await knex.raw('ALTER TABLE push_jobs DROP COLUMN parked_at');
    return;
  }
  await knex.schema.alterTable('push_jobs', (t) => {
    t.dropColumn('parked_at');
  });
}
