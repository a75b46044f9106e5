import type { Knex } from 'knex';
import { dropColumns } from '../src/db/schema-changes';

// What the receiver's app shows before downloading: the photo's displayed size and a blurhash.
// Nullable: messages stored before this migration have neither.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.integer('width').nullable(); // pixels, as displayed (EXIF orientation applied)
    t.integer('height').nullable();
    t.string('blurhash', 128).nullable(); // null when PUSH_PREVIEW was off
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'messages', ['width', 'height', 'blurhash']);
}
