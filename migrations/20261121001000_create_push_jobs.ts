import type { Knex } from 'knex';

/**
 * The push outbox: one job per message, written in the same transaction as the message row.
 * state: pending (waits for due_at) → sending (claimed; due_at is the lease's end) → sent | failed | skipped.
 * A sending job whose lease ran out is due again, so a crashed worker's jobs are claimed by the next one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('push_jobs', (t) => {
    t.increments('id').primary();
    t.integer('message_id').notNullable().unique().references('id').inTable('messages');
    t.string('state', 16).notNullable();
    t.bigInteger('due_at').notNullable(); // epoch ms: next attempt (pending) or end of the lease (sending)
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('lease_owner', 64).nullable(); // the claim that holds a sending job; outcomes check it
    t.string('provider', 16).nullable(); // provider of the last attempt
    t.string('task_id', 128).nullable(); // the provider's id for the accepted push
    t.string('last_error', 500).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('finished_at').nullable();
    // The claim: WHERE state IN ('pending', 'sending') AND due_at <= now ORDER BY due_at.
    t.index(['state', 'due_at'], 'push_jobs_due_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('push_jobs');
}
