import type { Knex } from 'knex';

export const isSqlite = (knex: Knex) => /sqlite/.test(String(knex.client.config.client));

/**
 * Drops plain columns (no index, key or constraint of their own) on either database. knex's SQLite
 * dropColumn copies the table and drops the original, which the foreign keys pointing at it forbid once
 * it has rows (PRAGMA foreign_keys cannot be turned off inside a migration's transaction); SQLite 3.35+
 * drops a plain column in place.
 */
export async function dropColumns(knex: Knex, table: string, columns: string[]): Promise<void> {
  if (isSqlite(knex)) {
    for (const column of columns) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', [table, column]);
    return;
  }
  await knex.schema.alterTable(table, (t) => {
    for (const column of columns) t.dropColumn(column);
  });
}
