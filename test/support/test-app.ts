import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import supertest from 'supertest';
import { loadConfig } from '../../src/config';
import { createDatabase } from '../../src/db/knex';
import type { LingerBounds } from '../../src/http/linger';
import { createHttpServer } from '../../src/http/server';
import { createLogger } from '../../src/logger';
import { OWNER_MARKER } from '../../src/storage/blob-store';
import { createServices, type ServiceOptions, type Services } from '../../src/services';
import { LogSink } from './log-sink';

export interface TestApp {
  api: supertest.Agent;
  /** The settings this app runs on (database, uploads folder...), to start a second instance on them. */
  env: Record<string, string>;
  services: Services;
  logs: LogSink;
  dir: string;
  port: number;
  /** Every file under the uploads folder, temporary ones included, relative to it. */
  storedFiles(): string[];
  /** Runs the push worker until no job is due, as its timer loop would. */
  drainPushes(): Promise<number>;
  close(): Promise<void>;
}

export interface TestAppOptions extends ServiceOptions {
  /** Reuse a directory (and its database) from an earlier app; both are kept on close. */
  dir?: string;
  /** Run as a second instance on another app's database and uploads folder, left to that app. */
  sameStoreAs?: TestApp;
  /** Start the push worker's timer loop, as the server does. Off by default: tests call drainPushes(). */
  startWorker?: boolean;
  /** How much of a body answered early the server still reads (see src/http/linger.ts). */
  linger?: LingerBounds;
}

function walk(dir: string, root = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? walk(full, root) : [path.relative(root, full)];
  });
}

/** Set to run the suites on PostgreSQL: each test app gets a fresh schema there, dropped afterwards. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? '';

interface TestDatabase {
  env: Record<string, string>;
  drop(): Promise<void>;
}

const admin = () => knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
/** Schemas of kept directories, dropped once every suite has run (see test/setup.ts). */
const keptSchemas = new Set<string>();

/** A new empty database for one test app: a SQLite file in dir, or a new PostgreSQL schema. */
export async function freshDatabase(dir: string): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL)
    return { env: { SQLITE_FILE: path.join(dir, 'pushpic.sqlite') }, drop: async () => {} };
  const schema = `test_${crypto.randomBytes(6).toString('hex')}`;
  const db = admin();
  await db.raw('CREATE SCHEMA ??', [schema]);
  await db.destroy();
  return {
    env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema },
    async drop() {
      const d = admin();
      await d.raw('DROP SCHEMA ?? CASCADE', [schema]);
      await d.destroy();
    },
  };
}

/** The database that belongs to a kept directory: the same one each time it is asked for. */
async function keptDatabase(dir: string): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL)
    return { env: { SQLITE_FILE: path.join(dir, 'pushpic.sqlite') }, drop: async () => {} };
  const schema = `test_kept_${crypto.createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
  const db = admin();
  await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  await db.destroy();
  keptSchemas.add(schema);
  return { env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema }, drop: async () => {} };
}

export async function dropKeptDatabases(): Promise<void> {
  if (!keptSchemas.size) return;
  const db = admin();
  for (const schema of keptSchemas) await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  keptSchemas.clear();
  await db.destroy();
}

/**
 * The real server on a loopback port: a fresh database (SQLite file, or a PostgreSQL schema when
 * TEST_DATABASE_URL is set) and uploads folder in a temporary directory, migrations applied, logs captured.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-test-'));
  const database: TestDatabase = options.sameStoreAs
    ? { env: options.sameStoreAs.env, drop: async () => {} }
    : options.dir
      ? await keptDatabase(dir)
      : await freshDatabase(dir);
  const settings: Record<string, string> = {
    UPLOAD_DIR: path.join(dir, 'uploads'),
    LOG_LEVEL: 'info',
    // Suites register many users from one address; the rate-limit suite turns limits back on.
    RATE_LIMIT_REGISTER_PER_IP: 'off',
    RATE_LIMIT_SEND_PER_USER: 'off',
    RATE_LIMIT_SEND_PER_IP: 'off',
    ...database.env,
    ...env,
  };
  const config = loadConfig(settings);
  const logs = new LogSink();
  const logger = createLogger(config.logLevel, logs);
  const handle = createDatabase(config.database);
  const db = handle.knex;
  await db.migrate.latest();
  const services = createServices(config, handle, logger, { now: options.now, random: options.random });
  try {
    await services.claimStore();
  } catch (err) {
    // A start refused (as main.ts would refuse it) leaves nothing behind.
    await services.limiters.close();
    await db.destroy();
    await database.drop();
    if (!options.dir && !options.sameStoreAs) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  await services.limiters.ready();
  if (options.startWorker) services.outbox.start();
  const server = createHttpServer(services, { linger: options.linger });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    api: supertest.agent(`http://127.0.0.1:${port}`),
    env: settings,
    services,
    logs,
    dir,
    port,
    storedFiles: () => walk(config.uploadDir).filter((f) => f !== OWNER_MARKER),
    drainPushes: () => services.outbox.drain(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await services.outbox.stop();
      await services.limiters.close();
      await db.destroy();
      await database.drop();
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
