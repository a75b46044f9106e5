import type Router from '@koa/router';
import { errors } from '../../errors';
import type { Services } from '../../services';
import { currentUser, type AppState } from '../context';
import { authenticateEarly, requireUser } from '../middleware/auth';
import { jsonBody } from '../middleware/json-body';
import { byIp, rateLimit } from '../middleware/rate-limit';
import { parse } from '../middleware/validate';
import { presentOwnProfile, presentPublicUser } from '../presenters';
import { CidBody, RegisterBody, UidParam } from '../schemas';

/** Adds these routes to the app's router. */
export function userRoutes(router: Router<AppState>, services: Services): void {
  const auth = requireUser(services.authenticate);

  router.post('/v1/register', rateLimit(services.limiters.registerPerIp, byIp), jsonBody(), async (ctx) => {
    const body = parse(RegisterBody, ctx.request.body ?? {});
    const registered = await services.registerUser({
      cid: body.cid,
      regionNum: body.region_num,
      phoneNum: body.phone_num,
      nickname: body.nickname,
    });
    ctx.status = 201;
    ctx.body = { uid: registered.uid, ukey: registered.ukey };
  });

  router.get('/v1/me', auth, (ctx) => {
    ctx.body = presentOwnProfile(currentUser(ctx));
  });

  // Header credentials are checked before the body is read (401 before 415 or 422); credentials in the
  // JSON body, as the original protocol sends them, once it is.
  router.put('/v1/me/cid', authenticateEarly(services.authenticate), jsonBody(), auth, async (ctx) => {
    const body = parse(CidBody, ctx.request.body ?? {});
    await services.users.updateCid(currentUser(ctx).uid, body.cid);
    ctx.status = 204;
  });

  router.get('/v1/users/:uid', auth, async (ctx) => {
    // Anything but a row id (past the largest, no user can exist) is the same 404, on every database.
    const uid = UidParam.safeParse(ctx.params.uid);
    const user = uid.success ? await services.users.findById(uid.data) : undefined;
    if (!user) throw errors.userNotFound();
    ctx.body = presentPublicUser(user);
  });
}
