import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, EX_CONFIG, loadConfig } from './config';
import { connectDatabase } from './db/connect';
import { createDatabase } from './db/knex';
import { migrateToLatest, migrationStatus } from './db/migrate';
import { listen } from './http/listen';
import { createHttpServer } from './http/server';
import { createLogger } from './logger';
import { createServices, type Services } from './services';
import { checkUploadDir } from './storage/upload-dir';

/**
 * Start-up, in the order a problem is cheapest to find. Anything that throws a ConfigError on the way
 * (a setting that does not work) ends the start with its one line on stderr and exit 78.
 */
async function start(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  checkUploadDir(config.uploadDir);
  const database = createDatabase(config.database, logger);
  const db = database.knex;
  // Before the database: a push provider whose settings do not work stops the start.
  const services = createServices(config, database, logger);
  await connectDatabase(db, config.database, logger);
  if (config.database.migrateOnStart) await migrateToLatest(db, logger, config.database.schema);
  else await requireMigrated(db);
  await services.claimStore(); // a store that is another database's stops the start (ConfigError)
  await services.limiters.ready();
  const server = createHttpServer(services);
  await listen(server, config.host, config.port);
  // Once the port is ours: a start refused at listen leaves no push half sent. A send that comes first
  // writes its job due, and the worker's first claim takes it.
  services.outbox.start();
  // Before the line that says it listens: whoever waits for that line may stop the server at once, and
  // until a handler is installed SIGTERM kills the process outright.
  stopOnSignals(server, services, runSweeper(services));
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      event: 'server.listening',
      host: config.host,
      port,
      pid: process.pid,
      db: config.database.url ? 'postgresql' : 'sqlite',
      blob_store: services.blobs.kind,
      push: config.push.provider,
    },
    `pushpic listening on ${config.host}:${port}`,
  );
}

/** With MIGRATE_ON_START=false, a schema behind this code stops the start rather than failing requests. */
async function requireMigrated(db: Parameters<typeof migrationStatus>[0]): Promise<void> {
  const { pending } = await migrationStatus(db);
  if (pending.length) {
    throw new ConfigError([
      `MIGRATE_ON_START: false, and the database lacks ${pending.length} migration(s) this version needs ` +
        `(${pending[0]}${pending.length > 1 ? ', …' : ''}): run npm run migrate -- latest first`,
    ]);
  }
}

/** Reconciles files with rows and expires old messages: once now, then every SWEEP_INTERVAL. */
function runSweeper({ sweeper, logger, config }: Services): { stop(): Promise<unknown> } {
  const failed = (err: unknown) => logger.error({ event: 'sweeper.error', err }, 'sweep failed');
  let sweeping: Promise<unknown> = sweeper
    .run()
    .then((report) => logger.info({ event: 'sweeper.startup', ...report }, 'startup sweep finished'))
    .catch(failed);
  const timer = setInterval(() => {
    sweeping = sweeper.run().catch(failed);
  }, config.sweepIntervalMs);
  return {
    stop() {
      clearInterval(timer);
      return sweeping;
    },
  };
}

/**
 * SIGTERM or SIGINT: stop accepting at once, let open requests finish (their push jobs are committed; the
 * worker keeps pushing meanwhile) for at most SHUTDOWN_TIMEOUT, then stop the outbox: the jobs it was handed
 * and the batch in flight are sent and recorded, with time for a provider call of its own however long the
 * requests took. Then close the database and exit 0.
 */
function stopOnSignals(server: Server, services: Services, sweeper: { stop(): Promise<unknown> }): void {
  const { config, logger } = services;
  let stopping = false;
  // While stopping, a connection whose response just finished is closed at once instead of idling in
  // keep-alive until its timeout.
  server.on('request', (_req, res) => {
    res.once('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
  });
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const stoppedSweeping = sweeper.stop();
    const closed = new Promise((resolve) => server.close(resolve)); // stops accepting at once
    server.closeIdleConnections();
    logger.info({ event: 'server.stopping', signal }, 'stopping: no new connections, finishing requests');
    const force = setTimeout(() => {
      logger.warn(
        { event: 'server.shutdown_timeout' },
        'requests still open after SHUTDOWN_TIMEOUT; closing them',
      );
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    await Promise.race([closed, wait(config.shutdownTimeoutMs + 1000)]);
    clearTimeout(force);
    await Promise.race([services.outbox.stop(), wait(config.push.httpTimeoutMs + 1000)]);
    // A sweep cut short is harmless (the next start sweeps again); a long one must not outlast the stop.
    await Promise.race([stoppedSweeping, wait(1000)]);
    await services.limiters.close();
    await services.db.destroy();
    logger.info({ event: 'server.stopped' }, 'stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

start().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EX_CONFIG);
  }
  process.stderr.write(`pushpic failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
