// Used by ops: `npx knex migrate:latest | migrate:rollback | migrate:status`. Reads the same settings
// as the server (DATABASE_URL, or SQLITE_FILE for the embedded database).
import { loadConfig } from './src/config';
import { knexConfig } from './src/db/knex';
import fs from 'node:fs';
import path from 'node:path';

const config = loadConfig();
if (!config.database.url) fs.mkdirSync(path.dirname(config.database.sqliteFile), { recursive: true });

module.exports = knexConfig(config.database);
