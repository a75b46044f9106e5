import http from 'node:http';
import { ConfigError, loadConfig } from './config';
import { createDb } from './db/knex';
import { createApp } from './http/app';
import { createLogger } from './logger';
import { createServices } from './services';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = createDb(config.database);
  // Before migrating: a push provider whose settings do not work stops the start (ConfigError).
  const services = createServices(config, db, logger);
  if (config.database.migrateOnStart) {
    const [, applied] = await db.migrate.latest();
    logger.info({ event: 'db.migrated', applied }, 'migrations applied');
  }
  services.outbox.start();
  const app = createApp(services);
  const server = http.createServer(app.callback());
  server.listen(config.port, config.host, () => {
    logger.info(
      {
        event: 'server.listening',
        host: config.host,
        port: config.port,
        db: config.database.url ? 'postgresql' : 'sqlite',
      },
      `pushpic listening on ${config.host}:${config.port}`,
    );
  });

  const shutdown = (signal: string) => {
    logger.info({ event: 'server.stopping', signal }, 'stopping');
    // Open requests finish (their push jobs are committed); the push batch in flight is sent and recorded.
    const closed = new Promise((resolve) => server.close(resolve));
    void Promise.all([closed, services.outbox.stop()])
      .then(() => db.destroy())
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`pushpic failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
