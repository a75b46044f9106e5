import type { Knex } from 'knex';
import { dropColumns } from '../src/db/schema-changes';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    // Set when a download found the photo's file missing from the store (exist becomes false too): the
    // photo was lost, not deleted after a download.
    t.bigInteger('lost_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'messages', ['lost_at']);
}
