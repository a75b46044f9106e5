import type { Config } from './config';
import type { Db } from './db/knex';
import { messagesRepository } from './db/messages-repository';
import { usersRepository, type UsersRepository } from './db/users-repository';
import { createLimiters, type Limiters } from './limits/rate-limiters';
import type { Logger } from './logger';
import { messagesService } from './messages/messages-service';
import { directPushNotifier } from './messages/push-notifier';
import { sendMessage } from './messages/send-message';
import { sweeper } from './messages/sweeper';
import { createMetrics, type Metrics } from './observability/metrics';
import { instrumented } from './push/instrumented-push-provider';
import { MockPushProvider } from './push/mock-push-provider';
import type { PushProvider } from './push/push-provider';
import type { BlobStore } from './storage/blob-store';
import { LocalBlobStore } from './storage/local-blob-store';
import { S3BlobStore } from './storage/s3-blob-store';
import { TempFiles } from './storage/temp-files';
import { authenticate } from './users/authenticate';
import { registerUser } from './users/register-user';

/** Everything the HTTP layer and the background jobs call, wired once from config. */
export interface Services {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  limiters: Limiters;
  users: UsersRepository;
  blobs: BlobStore;
  tempFiles: TempFiles;
  /** The configured provider itself (tests read the mock's record of pushes). */
  pushProvider: PushProvider;
  registerUser: ReturnType<typeof registerUser>;
  authenticate: ReturnType<typeof authenticate>;
  sendMessage: ReturnType<typeof sendMessage>;
  messages: ReturnType<typeof messagesService>;
  sweeper: ReturnType<typeof sweeper>;
}

export function createPushProvider(config: Config, logger: Logger): PushProvider {
  switch (config.push.provider) {
    case 'mock':
      return new MockPushProvider(logger.child({ component: 'push' }));
  }
}

export function createBlobStore(config: Config): BlobStore {
  const store = config.blobStore;
  return store.kind === 's3' ? new S3BlobStore(store) : new LocalBlobStore(config.uploadDir);
}

export function createServices(config: Config, db: Db, logger: Logger): Services {
  const now = () => Date.now();
  const metrics = createMetrics(db);
  const users = usersRepository(db);
  const messages = messagesRepository(db);
  const blobs = createBlobStore(config);
  const tempFiles = new TempFiles(config.uploadDir);
  const pushProvider = createPushProvider(config, logger);
  const notifier = directPushNotifier(
    users,
    instrumented(pushProvider, metrics),
    logger.child({ component: 'push' }),
  );
  const ttlMs = config.messageTtlMs;
  return {
    config,
    db,
    logger,
    metrics,
    limiters: createLimiters(config, db, logger),
    users,
    blobs,
    tempFiles,
    pushProvider,
    registerUser: registerUser(users, now),
    authenticate: authenticate(users),
    sendMessage: sendMessage({ users, messages, blobs, notifier, logger }),
    messages: messagesService({ messages, blobs, logger, now, ttlMs }),
    sweeper: sweeper({ messages, blobs, tempFiles, logger, now, ttlMs, orphanGraceMs: config.orphanGraceMs }),
  };
}
