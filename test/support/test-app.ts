import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { loadConfig } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { createServices, type ServiceOptions, type Services } from '../../src/services';
import { LogSink } from './log-sink';

export interface TestApp {
  api: supertest.Agent;
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
  /** Reuse a directory (and its database) from an earlier app; it is kept on close. */
  dir?: string;
  /** Start the push worker's timer loop, as the server does. Off by default: tests call drainPushes(). */
  startWorker?: boolean;
}

function walk(dir: string, root = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? walk(full, root) : [path.relative(root, full)];
  });
}

/**
 * The real server on a loopback port: a fresh SQLite file and uploads folder in a temporary directory,
 * migrations applied, logs captured.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-test-'));
  const config = loadConfig({
    SQLITE_FILE: path.join(dir, 'pushpic.sqlite'),
    UPLOAD_DIR: path.join(dir, 'uploads'),
    LOG_LEVEL: 'info',
    ...env,
  });
  const logs = new LogSink();
  const logger = createLogger(config.logLevel, logs);
  const db = createDb(config.database);
  await db.migrate.latest();
  const services = createServices(config, db, logger, { now: options.now, random: options.random });
  if (options.startWorker) services.outbox.start();
  const server = http.createServer(createApp(services).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    api: supertest.agent(`http://127.0.0.1:${port}`),
    services,
    logs,
    dir,
    port,
    storedFiles: () => walk(config.uploadDir),
    drainPushes: () => services.outbox.drain(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await services.outbox.stop();
      await db.destroy();
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
