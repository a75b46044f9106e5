// For developers: `npx knex migrate:status | migrate:latest | migrate:rollback` run the
// TypeScript migrations through ts-node, on the same settings as the server (DATABASE_URL, or SQLITE_FILE).
// Ops use `npm run migrate` (scripts/migrate.ts), which runs from the compiled code and whose status
// changes nothing (knex's creates its bookkeeping tables).
import { loadConfig } from './src/config';
import { knexConfig } from './src/db/knex';
import fs from 'node:fs';
import path from 'node:path';

const config = loadConfig();
if (!config.database.url) fs.mkdirSync(path.dirname(config.database.sqliteFile), { recursive: true });

module.exports = knexConfig(config.database);
