import type Koa from 'koa';
import type { User } from '../db/users-repository';
import type { Logger } from '../logger';
import type { ReceivedUpload } from '../messages/send-message';

export interface AppState {
  requestId: string;
  log: Logger;
  /** When the request arrived, epoch ms. */
  receivedAt: number;
  /** Set by the auth middleware. */
  user?: User;
  /** Set by the multipart middleware when a photo arrived. */
  upload?: ReceivedUpload;
}

export type AppContext = Koa.ParameterizedContext<AppState>;
export type AppMiddleware = Koa.Middleware<AppState>;

export function currentUser(ctx: AppContext): User {
  if (!ctx.state.user) throw new Error('route is missing the auth middleware');
  return ctx.state.user;
}
