import type { Knex } from 'knex';

/**
 * A blurhash of 9 × 9 components, the most there are, is 166 characters (4 + 2 · 81); the column held 128,
 * so PostgreSQL refused the insert of a valid send (a 500). SQLite does not enforce a varchar's length.
 */
const pg = (knex: Knex) => knex.client.config.client === 'pg';

export async function up(knex: Knex): Promise<void> {
  if (pg(knex)) await knex.raw('ALTER TABLE messages ALTER COLUMN blurhash TYPE varchar(166)');
}

export async function down(knex: Knex): Promise<void> {
  if (!pg(knex)) return;
  // A preview that no longer fits is dropped (null: no preview), as for a message sent without one.
  await knex('messages').whereRaw('length(blurhash) > 128').update({ blurhash: null });
  await knex.raw('ALTER TABLE messages ALTER COLUMN blurhash TYPE varchar(128)');
}
