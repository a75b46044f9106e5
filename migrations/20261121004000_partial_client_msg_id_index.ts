import type { Knex } from 'knex';

/**
 * The (sender_uid, client_msg_id) uniqueness only matters for the sends that carry a client_msg_id, yet the
 * full index took an entry (and a page written to the WAL) for every message. A partial index keeps the same
 * rule: NULLs never collided, on SQLite or PostgreSQL. The new index is made before the old one goes, so the
 * rule holds throughout.
 */
const PARTIAL = 'messages_client_msg_id_unique';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `create unique index ${PARTIAL} on messages (sender_uid, client_msg_id) where client_msg_id is not null`,
  );
  await knex.schema.alterTable('messages', (t) => t.dropUnique(['sender_uid', 'client_msg_id']));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => t.unique(['sender_uid', 'client_msg_id']));
  await knex.raw(`drop index ${PARTIAL}`);
}
