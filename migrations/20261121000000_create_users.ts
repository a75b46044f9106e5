import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary(); // the uid
    t.string('cid', 128).notNullable(); // push client id from the GeTui / FCM SDK
    t.string('ukey_hash', 64).notNullable(); // hex SHA-256 of the ukey; the ukey itself is never stored
    t.string('region_num', 4).notNullable(); // country calling code, "86"
    t.string('phone_num', 16).notNullable(); // E.164, "+8613800138000"
    t.string('phone_hash', 64).notNullable().unique(); // hex SHA-256 of phone_num
    t.string('nickname', 64).notNullable();
    t.bigInteger('reg_time').notNullable(); // epoch milliseconds
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
