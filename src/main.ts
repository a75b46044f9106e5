import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type Config } from './config';
import { createDb } from './db/knex';
import { migrateToLatest } from './db/migrate';
import { createHttpServer } from './http/server';
import { createLogger } from './logger';
import { createServices } from './services';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const db = createDb(config.database);
  // Before migrating: a push provider whose settings do not work stops the start (ConfigError).
  const services = createServices(config, db, logger);
  if (config.database.migrateOnStart) await migrateToLatest(db, logger, config.database.schema);
  // Opens the database connection now (on SQLite, the one the hot statements' lane shares with knex).
  await db.raw('select 1');
  await services.claimStore(); // a store that is another database's stops the start (ConfigError)
  await services.limiters.ready();
  services.outbox.start();
  const server = createHttpServer(services);
  await new Promise<void>((resolve, reject) => {
    const refused = (err: NodeJS.ErrnoException) => {
      // A port taken or not ours to bind is a setting to change, said in one line like the others.
      const why = { EADDRINUSE: 'is already in use', EACCES: 'cannot be bound (permission denied)' }[
        err.code!
      ];
      reject(why ? new ConfigError([`PORT: ${config.host}:${config.port} ${why}`]) : err);
    };
    server.once('error', refused);
    server.listen(config.port, config.host, () => {
      server.off('error', refused); // later server errors are not start-up's to swallow
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      event: 'server.listening',
      host: config.host,
      port,
      db: config.database.url ? 'postgresql' : 'sqlite',
      blob_store: services.blobs.kind,
      push: config.push.provider,
    },
    `pushpic listening on ${config.host}:${port}`,
  );

  // Reconcile files with rows and expire old messages: once now, then every SWEEP_INTERVAL.
  let sweeping: Promise<unknown> = services.sweeper
    .run()
    .then((report) => logger.info({ event: 'sweeper.startup', ...report }, 'startup sweep finished'))
    .catch((err) => logger.error({ event: 'sweeper.error', err }, 'sweep failed'));
  const sweepTimer = setInterval(() => {
    sweeping = services.sweeper
      .run()
      .catch((err) => logger.error({ event: 'sweeper.error', err }, 'sweep failed'));
  }, config.sweepIntervalMs);

  let stopping = false;
  // While stopping, a connection whose response just finished is closed at once instead of idling in
  // keep-alive until its timeout.
  server.on('request', (_req, res) => {
    res.once('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
  });
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweepTimer);
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
    // Open requests finish (their push jobs are committed; the worker keeps pushing meanwhile), then the
    // outbox stops: the jobs it was handed and the batch in flight are sent and recorded, with time for a
    // provider call of its own however long the requests took.
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([closed, wait(config.shutdownTimeoutMs + 1000)]);
    clearTimeout(force);
    await Promise.race([services.outbox.stop(), wait(config.push.httpTimeoutMs + 1000)]);
    await sweeping;
    await services.limiters.close();
    await db.destroy();
    logger.info({ event: 'server.stopped' }, 'stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`pushpic failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
