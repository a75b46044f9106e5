import type { Knex } from 'knex';
import { dropColumns } from '../src/db/schema-changes';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    // Set when the sweeper expired a message its receiver never downloaded (exist becomes false too).
    t.bigInteger('expired_at').nullable();
    // The sweeper's scan: WHERE exist AND send_time < cutoff.
    t.index(['exist', 'send_time'], 'messages_expiry_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.dropIndex(['exist', 'send_time'], 'messages_expiry_idx');
  });
  await dropColumns(knex, 'messages', ['expired_at']);
}
