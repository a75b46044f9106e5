import type Router from '@koa/router';
import { errors } from '../../errors';
import type { User } from '../../db/users-repository';
import type { ReceivedUpload } from '../../messages/send-message';
import type { Services } from '../../services';
import { currentUser, type AppState } from '../context';
import { authenticateEarly, requireUser } from '../middleware/auth';
import { receiveUpload, uploadReader } from '../middleware/multipart';
import { byIp, byUser, rateLimit } from '../middleware/rate-limit';
import { parse } from '../middleware/validate';
import { presentPending } from '../presenters';
import { listQuery, SendFields } from '../schemas';

/**
 * The send route's work once the sender is known and the body read: checks the fields, stores the photo
 * and answers 201 with the new message (200 with the first one for a repeated client_msg_id). The Koa route
 * and the send lane (../send-lane.ts) share it.
 */
export async function sendPhoto(
  services: Services,
  sender: User,
  body: unknown,
  { upload, receivedAt }: { upload?: ReceivedUpload; receivedAt: number },
) {
  const fields = parse(SendFields, body ?? {});
  if (!upload) throw errors.missingFile();
  const { message, created } = await services.sendMessage({
    sender,
    receiverUid: fields.receiver_uid,
    clientMsgId: fields.client_msg_id ?? null,
    blurhash: fields.blurhash ?? null,
    upload,
    receivedAt,
  });
  if (created) services.metrics.uploadBytes.inc(message.size);
  return {
    status: created ? 201 : 200,
    body: {
      message_id: message.messageId,
      message_key: message.messageKey,
      send_time: message.sendTime,
      filetype: message.filetype,
      size: message.size,
      width: message.width,
      height: message.height,
    },
  };
}

/** Adds these routes to the app's router. */
export function messageRoutes(router: Router<AppState>, services: Services): void {
  const { config } = services;
  const auth = requireUser(services.authenticate);
  const limitPerUser = rateLimit(services.limiters.sendPerUser, byUser);

  const ListQuery = listQuery(config.list);

  router.post(
    '/v1/messages',
    // Header credentials are checked before a byte of the photo is stored; credentials sent as multipart
    // fields (the original protocol's form) can only be checked once the body is read.
    rateLimit(services.limiters.sendPerIp, byIp),
    authenticateEarly(services.authenticate),
    limitPerUser, // before the body when the credentials came in headers...
    // A body that is not multipart carries no photo, nor credential fields: who is asking is answered
    // first (401), then what is wrong with the body (415).
    async (ctx, next) => {
      if (ctx.is('multipart/form-data')) return next();
      await auth(ctx, async () => undefined);
      throw errors.unsupportedContentType('multipart/form-data');
    },
    receiveUpload(uploadReader(services)),
    auth,
    limitPerUser, // ...else once the multipart fields have been read
    async (ctx) => {
      const sent = await sendPhoto(services, currentUser(ctx), ctx.request.body, ctx.state);
      ctx.status = sent.status;
      ctx.body = sent.body;
    },
  );

  router.get('/v1/messages', auth, async (ctx) => {
    const query = parse(ListQuery, { after: ctx.query.after, limit: ctx.query.limit });
    const page = await services.messages.listPending(currentUser(ctx), query.after, query.limit);
    ctx.body = { messages: page.messages.map(presentPending), next_after: page.nextAfter };
  });

  router.get('/v1/messages/:message_key', auth, async (ctx) => {
    const download = await services.messages.download(
      currentUser(ctx),
      ctx.params.message_key,
      ctx.state.log,
    );
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = download.message.filetype;
    ctx.length = download.size;
    ctx.res.once('close', download.release);
    ctx.body = download.body;
  });

  router.delete('/v1/messages/:message_key', auth, async (ctx) => {
    await services.messages.delete(currentUser(ctx), ctx.params.message_key);
    ctx.status = 204;
  });
}
