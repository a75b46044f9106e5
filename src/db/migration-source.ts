import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

/** One migration file; `file` is what knex's CLI prints for a pending migration. */
export interface MigrationFile {
  file: string;
}

/**
 * Migrations live in /migrations as TypeScript and compile to dist/migrations as JavaScript. knex records
 * each migration by name, so the name is the file name without its extension: the same database can be
 * migrated by `npx knex` (ts-node, .ts) and by the compiled server (.js) without either seeing the other's
 * files as missing.
 */
export class MigrationSource implements Knex.MigrationSource<MigrationFile> {
  constructor(private readonly directory = path.resolve(__dirname, '../../migrations')) {}

  async getMigrations(): Promise<MigrationFile[]> {
    const files = await fs.promises.readdir(this.directory);
    return files
      .filter((f) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
      .sort()
      .map((file) => ({ file }));
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.file.replace(/\.(ts|js)$/, '');
  }

  async getMigration(migration: MigrationFile): Promise<Knex.Migration> {
    // require, not import(): under ts-node (the knex CLI) only require() can load a .ts migration.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(this.directory, migration.file)) as Knex.Migration;
  }
}
