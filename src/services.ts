import type { Config } from './config';
import { databaseIdentityRepository } from './db/database-identity-repository';
import type { Database, Db } from './db/knex';
import { messagesRepository } from './db/messages-repository';
import { pushJobsRepository, type PushJobsRepository } from './db/push-jobs-repository';
import { usersRepository, type UsersRepository } from './db/users-repository';
import { createLimiters, type Limiters } from './limits/rate-limiters';
import { createMedia, type Media } from './images/media';
import type { Logger } from './logger';
import { messagesService } from './messages/messages-service';
import { sendMessage } from './messages/send-message';
import { sweeper } from './messages/sweeper';
import { createMetrics, type Metrics } from './observability/metrics';
import { instrumented } from './push/instrumented-push-provider';
import { PROVIDER_STATES } from './outbox/provider-breaker';
import { PushOutbox } from './outbox/push-outbox';
import { FcmClient, loadServiceAccount } from './push/fcm-client';
import { GetuiClient } from './push/getui-client';
import { MockPushProvider } from './push/mock-push-provider';
import type { PushProvider } from './push/push-provider';
import type { BlobStore } from './storage/blob-store';
import { LocalBlobStore } from './storage/local-blob-store';
import { S3BlobStore } from './storage/s3-blob-store';
import { claimStore } from './storage/store-owner';
import { TempFiles } from './storage/temp-files';
import { authenticate } from './users/authenticate';
import { registerUser } from './users/register-user';

/** Everything the HTTP layer and the background jobs call, wired once from config. */
export interface Services {
  config: Config;
  /** knex alone (probes, tests); the repositories use `database`, which has the SQLite lane too. */
  db: Db;
  database: Database;
  logger: Logger;
  metrics: Metrics;
  limiters: Limiters;
  users: UsersRepository;
  blobs: BlobStore;
  tempFiles: TempFiles;
  /** The configured provider itself (tests read the mock's record of pushes). */
  pushProvider: PushProvider;
  pushJobs: PushJobsRepository;
  /** The push worker: start() in the server, drain() in tests. */
  outbox: PushOutbox;
  media: Media;
  registerUser: ReturnType<typeof registerUser>;
  authenticate: ReturnType<typeof authenticate>;
  sendMessage: ReturnType<typeof sendMessage>;
  messages: ReturnType<typeof messagesService>;
  sweeper: ReturnType<typeof sweeper>;
  /** Marks the blob store as this database's, or throws ConfigError when it is another's (at start). */
  claimStore: () => Promise<void>;
}

/** The push provider PUSH_PROVIDER names. Throws ConfigError when its settings do not work. */
export function createPushProvider(config: Config, logger: Logger, now: () => number): PushProvider {
  const { push } = config;
  const log = logger.child({ component: 'push' });
  const common = { ttlMs: push.ttlMs, timeoutMs: push.httpTimeoutMs, logger: log, now };
  switch (push.provider) {
    case 'mock':
      return new MockPushProvider(log);
    case 'getui':
      return new GetuiClient({ ...push.getui!, ...common });
    case 'fcm': {
      const fcm = push.fcm!;
      const account = loadServiceAccount(fcm.serviceAccountFile, fcm.projectId);
      return new FcmClient({
        ...common,
        account,
        baseUrl: fcm.baseUrl,
        tokenUrl: fcm.tokenUrl,
      });
    }
  }
}

export function createBlobStore(config: Config): BlobStore {
  const store = config.blobStore;
  return store.kind === 's3' ? new S3BlobStore(store) : new LocalBlobStore(config.uploadDir);
}

/** Injectable for tests: the clock (and the randomness of retry jitter) the services use. */
export interface ServiceOptions {
  now?: () => number;
  random?: () => number;
}

export function createServices(
  config: Config,
  database: Database,
  logger: Logger,
  options: ServiceOptions = {},
): Services {
  const now = options.now ?? (() => Date.now());
  const db = database.knex;
  const metrics = createMetrics(db);
  const users = usersRepository(database);
  const messages = messagesRepository(database);
  const blobs = createBlobStore(config);
  const tempFiles = new TempFiles(config.uploadDir);
  const pushProvider = createPushProvider(config, logger, now);
  const pushJobs = pushJobsRepository(database);
  const providerState = (current: string) => {
    for (const state of PROVIDER_STATES) {
      metrics.pushProviderState.set({ provider: pushProvider.name, state }, state === current ? 1 : 0);
    }
  };
  providerState('up');
  const outbox = new PushOutbox({
    jobs: pushJobs,
    provider: instrumented(pushProvider, metrics),
    logger: logger.child({ component: 'push' }),
    settings: config.push,
    now,
    random: options.random,
    onProviderState: ({ state }) => providerState(state),
  });
  const ttlMs = config.messageTtlMs;
  const media = createMedia(config.images);
  return {
    config,
    db,
    database,
    logger,
    metrics,
    limiters: createLimiters(config, db, logger, metrics),
    users,
    blobs,
    tempFiles,
    pushProvider,
    pushJobs,
    outbox,
    registerUser: registerUser(users, now),
    authenticate: authenticate(users),
    sendMessage: sendMessage({ messages, blobs, outbox, media, logger, now }),
    messages: messagesService({ messages, blobs, logger, now, ttlMs }),
    sweeper: sweeper({
      messages,
      pushJobs,
      blobs,
      tempFiles,
      logger,
      now,
      ttlMs,
      orphanGraceMs: config.orphanGraceMs,
    }),
    media,
    claimStore: () =>
      claimStore({
        blobs,
        databaseId: () => databaseIdentityRepository(database).id(now()),
        knownKeysAmong: (keys) => messages.knownKeysAmong(keys),
        logger,
      }),
  };
}
