import type { Config } from './config';
import type { Db } from './db/knex';
import { messagesRepository } from './db/messages-repository';
import { usersRepository, type UsersRepository } from './db/users-repository';
import { createMedia, type Media } from './images/media';
import type { Logger } from './logger';
import { messagesService } from './messages/messages-service';
import { directPushNotifier } from './messages/push-notifier';
import { sendMessage } from './messages/send-message';
import { MockPushProvider } from './push/mock-push-provider';
import type { PushProvider } from './push/push-provider';
import type { BlobStore } from './storage/blob-store';
import { LocalBlobStore } from './storage/local-blob-store';
import { TempFiles } from './storage/temp-files';
import { authenticate } from './users/authenticate';
import { registerUser } from './users/register-user';

/** Everything the HTTP layer calls, wired once from config. */
export interface Services {
  config: Config;
  db: Db;
  logger: Logger;
  users: UsersRepository;
  blobs: BlobStore;
  tempFiles: TempFiles;
  pushProvider: PushProvider;
  media: Media;
  registerUser: ReturnType<typeof registerUser>;
  authenticate: ReturnType<typeof authenticate>;
  sendMessage: ReturnType<typeof sendMessage>;
  messages: ReturnType<typeof messagesService>;
}

export function createPushProvider(config: Config, logger: Logger): PushProvider {
  switch (config.push.provider) {
    case 'mock':
      return new MockPushProvider(logger.child({ component: 'push' }));
  }
}

export function createServices(config: Config, db: Db, logger: Logger): Services {
  const now = () => Date.now();
  const users = usersRepository(db);
  const messages = messagesRepository(db);
  const blobs = new LocalBlobStore(config.uploadDir);
  const tempFiles = new TempFiles(config.uploadDir);
  const pushProvider = createPushProvider(config, logger);
  const media = createMedia(config.images);
  const notifier = directPushNotifier(users, pushProvider, logger.child({ component: 'push' }));
  return {
    config,
    db,
    logger,
    users,
    blobs,
    tempFiles,
    pushProvider,
    media,
    registerUser: registerUser(users, now),
    authenticate: authenticate(users),
    sendMessage: sendMessage({ users, messages, blobs, notifier, media, logger }),
    messages: messagesService(messages, blobs, logger, now),
  };
}
