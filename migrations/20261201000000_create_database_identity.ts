import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One row: the id that names this database to its blob store (src/storage/store-owner.ts). Written
  // at the first start, not here, so that every instance agrees on the one that was written first.
  await knex.schema.createTable('database_identity', (t) => {
    t.integer('singleton').primary();
    t.string('id', 32).notNullable();
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('database_identity');
}
