import type { Knex } from 'knex';

/** Set when the push provider said the user's cid is dead (GeTui 20001, FCM UNREGISTERED); cleared by a new cid. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.bigInteger('cid_invalid_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'sqlite3') {
    // knex's SQLite dropColumn copies and drops the table, which messages' foreign keys forbid once users
    // has rows; SQLite 3.35+ drops a plain column in place.
    await knex.raw('ALTER TABLE users DROP COLUMN cid_invalid_at');
    return;
  }
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('cid_invalid_at');
  });
}
