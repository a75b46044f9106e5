import type { Knex } from 'knex';
import { dropColumns } from '../src/db/schema-changes';

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
  await dropColumns(knex, 'push_jobs', ['parked_at']);
}
