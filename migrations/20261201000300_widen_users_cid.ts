import type { Knex } from 'knex';

/**
 * A push token is the provider's to shape: a GeTui cid is 32 characters, an FCM registration token about
 * 160 and documented without a maximum, so the column held 128 and refused FCM devices. 4096 leaves room;
 * SQLite does not enforce a varchar's length.
 */
const pg = (knex: Knex) => knex.client.config.client === 'pg';

export async function up(knex: Knex): Promise<void> {
  if (pg(knex)) await knex.raw('ALTER TABLE users ALTER COLUMN cid TYPE varchar(4096)');
}

export async function down(knex: Knex): Promise<void> {
  if (!pg(knex)) return;
  // A token that no longer fits cannot be cut (it would name no device): it is kept in part and marked
  // dead, so pushes to it stop until the app uploads a new one, and the messages stay in the pending list.
  await knex('users')
    .whereRaw('length(cid) > 128')
    .update({ cid: knex.raw('left(cid, 128)'), cid_invalid_at: Date.now() });
  await knex.raw('ALTER TABLE users ALTER COLUMN cid TYPE varchar(128)');
}
