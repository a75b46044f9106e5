import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('messages', (t) => {
    t.increments('id').primary(); // the message_id
    t.integer('sender_uid').notNullable().references('id').inTable('users');
    t.integer('receiver_uid').notNullable().references('id').inTable('users');
    t.string('message_key', 64).notNullable().unique(); // also the stored file's name
    t.bigInteger('send_time').notNullable(); // epoch milliseconds, when the request arrived
    t.boolean('exist').notNullable().defaultTo(true); // false once the receiver deleted it
    t.string('filetype', 32).notNullable(); // MIME type detected from the bytes
    t.bigInteger('size').notNullable(); // bytes
    t.string('client_msg_id', 64).nullable(); // sender's idempotency key
    t.bigInteger('deleted_at').nullable();
    t.unique(['sender_uid', 'client_msg_id']);
    // The receiver's pending list: WHERE receiver_uid = ? AND exist ORDER BY id.
    t.index(['receiver_uid', 'exist', 'id'], 'messages_pending_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('messages');
}
