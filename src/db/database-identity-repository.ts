import crypto from 'node:crypto';
import type { Database } from './knex';

export type DatabaseIdentityRepository = ReturnType<typeof databaseIdentityRepository>;

/** The random id that names this database, written once (by whichever instance starts first). */
export function databaseIdentityRepository({ knex: db }: Database) {
  return {
    async id(now: number): Promise<string> {
      await db('database_identity')
        .insert({ singleton: 1, id: crypto.randomBytes(16).toString('hex'), created_at: now })
        .onConflict('singleton')
        .ignore();
      const row: { id: string } = await db('database_identity').where({ singleton: 1 }).first('id');
      return row.id;
    },
  };
}
