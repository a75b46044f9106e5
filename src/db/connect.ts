import { ConfigError, type Config } from '../config';
import type { Logger } from '../logger';
import type { Db } from './knex';

type DatabaseConfig = Config['database'];

/** Where the database is, for messages: host, port and name, never the password in DATABASE_URL. */
export function describeTarget(url: string): { where: string; user: string; name: string } {
  const u = new URL(url);
  // A malformed %-escape in a URL's part is shown as written rather than failing the message.
  const decodeURIComponent = (part: string) => {
    try {
      return globalThis.decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const query = u.searchParams;
  const host = decodeURIComponent(u.hostname) || query.get('host') || 'localhost';
  const port = u.port || query.get('port') || '5432';
  const user = decodeURIComponent(u.username) || query.get('user') || '(the OS user)';
  const name = decodeURIComponent(u.pathname.slice(1)) || user;
  return { where: `${host}:${port}`, user, name };
}

/** Connection failures that end once the database is up: it is still starting, or not listening yet. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // A container's host name resolves only once that container exists.
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03', // cannot_connect_now: the database system is starting up (or shutting down, or in recovery)
  '53300', // too_many_connections
]);

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: string; errors?: { code?: string }[] };
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  return e?.code ?? e?.errors?.[0]?.code;
}

function isTransient(err: unknown): boolean {
  const code = codeOf(err);
  if (code) return TRANSIENT_CODES.has(code);
  const message = String((err as Error)?.message);
  // The server closed the connection during its start-up handshake (it is restarting).
  return /Connection terminated unexpectedly|Timeout acquiring a connection/.test(message);
}

const PG_PROBLEMS: Record<string, (t: ReturnType<typeof describeTarget>, message: string) => string> = {
  '3D000': (t) =>
    `DATABASE_URL: database "${t.name}" does not exist on ${t.where}; create it as a superuser ` +
    `(CREATE DATABASE "${t.name}" OWNER "${t.user}";)`,
  '28P01': (t) => `DATABASE_URL: the password for user "${t.user}" was refused by ${t.where}`,
  '28000': (t, message) => `DATABASE_URL: ${t.where} refused user "${t.user}": ${message}`,
};

function pgProblem(err: unknown, url: string, waitedMs: number | null): string {
  const t = describeTarget(url);
  const code = codeOf(err);
  const message = String((err as Error)?.message ?? err);
  const known = code ? PG_PROBLEMS[code] : undefined;
  if (known) return known(t, message);
  const cause = code && !message.includes(code) ? `${message} (${code})` : message;
  if (waitedMs === null) return `DATABASE_URL: cannot connect to ${t.where}: ${cause}`;
  return (
    `DATABASE_URL: ${t.where} is not accepting connections (${cause}) after waiting ` +
    `DATABASE_CONNECT_TIMEOUT=${formatMs(waitedMs)}; is PostgreSQL running there?`
  );
}

function sqliteProblem(err: unknown, file: string): string {
  const code = codeOf(err) ?? '';
  const message = String((err as Error)?.message ?? err);
  const hint = /^SQLITE_(NOTADB|CORRUPT)/.test(code)
    ? 'point it at pushpic’s database, or at a new file'
    : 'the file and its folder must be writable by the user pushpic runs as';
  return `SQLITE_FILE: cannot open ${file}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}; ${hint}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a first connection and checks the schema to use exists (PostgreSQL); throws what failed. */
async function probe(db: Db, database: DatabaseConfig): Promise<void> {
  if (!database.url) {
    await db.raw('select 1');
    return;
  }
  const { rows } = (await db.raw('select current_schema() as schema')) as {
    rows: { schema: string | null }[];
  };
  if (rows[0]?.schema) return;
  const { name, user } = describeTarget(database.url);
  // current_schema() also skips a schema this user may not use.
  const exists = async (schema: string) =>
    ((await db.raw('select 1 from pg_namespace where nspname = ?', [schema])) as { rows: unknown[] }).rows
      .length > 0;
  if (database.schema && (await exists(database.schema)))
    throw new ConfigError([
      `DATABASE_SCHEMA: user "${user}" may not use schema "${database.schema}" in database "${name}"; ` +
        `grant it (GRANT USAGE, CREATE ON SCHEMA "${database.schema}" TO "${user}";)`,
    ]);
  throw new ConfigError([
    database.schema
      ? `DATABASE_SCHEMA: schema "${database.schema}" does not exist in database "${name}"; create it ` +
        `(CREATE SCHEMA "${database.schema}" AUTHORIZATION "${user}";)`
      : `DATABASE_SCHEMA: not set, and database "${name}" has no schema on its search_path (no "public"); ` +
        'set DATABASE_SCHEMA to an existing schema, or CREATE SCHEMA public',
  ]);
}

/**
 * Waits until the database takes a connection and the schema to use exists. A database that refuses
 * connections or is still starting up is tried again for DATABASE_CONNECT_TIMEOUT (containers start in any
 * order); anything else (a refused user, a missing database or schema, an SQLite file that cannot be
 * opened) stops at once. Every failure is a ConfigError naming the setting to look at.
 */
export async function connectDatabase(db: Db, database: DatabaseConfig, logger: Logger): Promise<void> {
  const { url } = database;
  if (!url) {
    try {
      return await probe(db, database);
    } catch (err) {
      throw new ConfigError([sqliteProblem(err, database.sqliteFile)]);
    }
  }
  const deadline = Date.now() + database.connectTimeoutMs;
  for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 2000)) {
    // A connection attempt that hangs (packets dropped) ends with the wait, at least a second from now.
    let expire: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      const ms = Math.max(deadline - Date.now(), 1000);
      expire = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })), ms);
    });
    try {
      return await Promise.race([probe(db, database), expired]);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (!isTransient(err)) throw new ConfigError([pgProblem(err, url, null)]);
      const left = deadline - Date.now();
      if (left <= 0) throw new ConfigError([pgProblem(err, url, database.connectTimeoutMs)]);
      logger.warn(
        { event: 'db.waiting', attempt, code: codeOf(err), err },
        'the database does not take connections yet; trying again',
      );
      await sleep(Math.min(delay, left));
    } finally {
      clearTimeout(expire);
    }
  }
}
