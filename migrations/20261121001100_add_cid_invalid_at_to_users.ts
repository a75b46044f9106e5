import type { Knex } from 'knex';
import { dropColumns } from '../src/db/schema-changes';

/** Set when the push provider said the user's cid is dead (GeTui 20001, FCM UNREGISTERED); cleared by a new cid. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.bigInteger('cid_invalid_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'users', ['cid_invalid_at']);
}
