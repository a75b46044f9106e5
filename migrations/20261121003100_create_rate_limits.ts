import type { Knex } from 'knex';

// The shape rate-limiter-flexible's PostgreSQL store expects; created here so both databases carry the same
// schema and the server never runs DDL outside migrations.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
}
