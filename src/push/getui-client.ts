import crypto from 'node:crypto';
import type { Logger } from '../logger';
import { describeNetworkError, parseRetryAfter, post } from './http';
import { mapLimit } from './map-limit';
import type { PushOutcome, PushProvider, PushRequest, RetryCause } from './push-provider';
import { TokenCache, type Token } from './token-cache';

// Facts from GeTui RestAPI v2 (docs/push-providers.md): limits, codes and the token's refresh margin.
const MAX_BATCH = 200;
const MAX_TRANSMISSION = 3072;
const MAX_TITLE = 50;
const MAX_BODY = 256;
/** The official SDK refreshes its token when less than an hour is left. */
const REFRESH_AHEAD_MS = 60 * 60 * 1000;
const SINGLE_CONCURRENCY = 8;

export interface GetuiOptions {
  appId: string;
  appKey: string;
  masterSecret: string;
  /** e.g. https://restapi.getui.com/v2 (the app id is appended). */
  baseUrl: string;
  /** settings.ttl: how long GeTui keeps a push for an offline device. */
  ttlMs: number;
  timeoutMs: number;
  logger: Logger;
  now: () => number;
}

/** What GeTui answered: `{code, msg, data}` read from the body whatever the HTTP status. */
export interface GetuiAnswer {
  httpStatus: number;
  /** Undefined when the body was not GeTui's JSON (a proxy's error page, say). */
  code?: number;
  msg?: string;
  data?: unknown;
  retryAfterMs?: number;
}

export type GetuiVerdict =
  | { kind: 'ok' }
  | { kind: 'reauth' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number; cause: RetryCause }
  | { kind: 'invalid_target'; reason: string }
  | { kind: 'failed'; reason: string };

const ONE_MINUTE = 60_000;

/**
 * The table of docs/push-providers.md: done, retry later, token refresh, invalid device, permanent failure.
 * A retry says whether GeTui is down (outage: every push would fail alike) or limits our calls (rate_limit).
 */
export function classifyGetuiAnswer(a: GetuiAnswer): GetuiVerdict {
  const why = `getui ${a.code ?? 'no code'}${a.msg ? `: ${a.msg}` : ''} (HTTP ${a.httpStatus})`;
  const retry = (cause: RetryCause, floorMs?: number): GetuiVerdict => ({
    kind: 'retry',
    reason: why,
    cause,
    retryAfterMs: floorMs === undefined ? a.retryAfterMs : Math.max(floorMs, a.retryAfterMs ?? 0),
  });
  if (a.code === undefined) {
    // 5xx pages, gateways, a proxy's error page: nothing says the push was refused, and GeTui is not there.
    return a.httpStatus === 429 ? retry('rate_limit', ONE_MINUTE) : retry('outage');
  }
  if (a.code === 0) return { kind: 'ok' };
  if (a.code === 10001) return { kind: 'reauth' };
  if (a.code === 2 || a.code === 30019) return retry('outage'); // service starting, system busy
  if (a.code === 10003 || a.code === 10005) return retry('rate_limit', ONE_MINUTE); // per-minute call limits
  if (a.code >= 30000 && a.code <= 30018) return retry('rate_limit', 10 * ONE_MINUTE); // plan and quota limits
  // Wrong data centre: every call fails alike until ops set GETUI_BASE_URL; keep the jobs.
  if (a.code === 301) return retry('outage');
  if (a.code === 20001 && /target user is invalid/i.test(a.msg ?? '')) {
    return { kind: 'invalid_target', reason: why };
  }
  if (a.httpStatus >= 500) return retry('outage');
  return { kind: 'failed', reason: why }; // 10002 blacklisted, 20001 other bad parameters, unknown codes
}

/** The body of push/single/cid, also one entry of a batch's msg_list. */
interface SingleBody {
  request_id: string;
  settings: { ttl: number };
  audience: { cid: string[] };
  push_message: { transmission: string };
  push_channel: {
    android: {
      ups: {
        notification: {
          title: string;
          body: string;
          click_type: 'payload';
          payload: string;
          notify_id: number;
        };
      };
    };
  };
}

class GetuiAuthError extends Error {
  constructor(
    readonly reason: string,
    readonly retryCause: RetryCause,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}

/** A GeTui RestAPI v2 client over HTTP (no official Node SDK speaks v2). */
export class GetuiClient implements PushProvider {
  readonly name = 'getui';
  readonly maxBatch = MAX_BATCH;
  private readonly tokens: TokenCache;

  constructor(private readonly o: GetuiOptions) {
    this.tokens = new TokenCache(() => this.auth(), o.now);
  }

  async send(request: PushRequest): Promise<PushOutcome> {
    const body = this.singleBody(request);
    if (typeof body === 'string') return { kind: 'failed', reason: body };
    try {
      return this.outcome(await this.call('/push/single/cid', body));
    } catch (err) {
      return this.unanswered(err);
    }
  }

  /**
   * Up to 200 different messages in one push/single/batch/cid call; onOutcome hears the batch's outcomes
   * when its answer comes, then each single push's as it comes.
   */
  async sendBatch(
    requests: PushRequest[],
    onOutcome: (index: number, outcome: PushOutcome) => void = () => {},
  ): Promise<PushOutcome[]> {
    if (requests.length > MAX_BATCH) throw new Error(`at most ${MAX_BATCH} pushes per batch`);
    const outcomes = new Array<PushOutcome | undefined>(requests.length);
    const settle = (i: number, outcome: PushOutcome) => {
      outcomes[i] = outcome;
      onOutcome(i, outcome);
    };
    if (requests.length === 1) {
      settle(0, await this.send(requests[0]));
      return outcomes as PushOutcome[];
    }
    const bodies: { i: number; body: SingleBody }[] = [];
    requests.forEach((r, i) => {
      const body = this.singleBody(r);
      if (typeof body === 'string') settle(i, { kind: 'failed', reason: body });
      else bodies.push({ i, body });
    });

    let answer: GetuiAnswer | undefined;
    try {
      answer = await this.call('/push/single/batch/cid', {
        is_async: false,
        msg_list: bodies.map((b) => b.body),
      });
    } catch (err) {
      const unanswered = this.unanswered(err);
      for (const b of bodies) settle(b.i, unanswered);
    }
    if (answer) {
      const verdict = classifyGetuiAnswer(answer);
      if (verdict.kind === 'ok') {
        const accepted = acceptedByCid(answer.data);
        for (const b of bodies) {
          const taskId = accepted.take(requests[b.i].cid);
          if (taskId !== undefined) settle(b.i, { kind: 'sent', taskId });
        }
      } else if (verdict.kind === 'retry' || verdict.kind === 'reauth') {
        const retry = this.outcome(answer);
        for (const b of bodies) settle(b.i, retry);
      }
      // Otherwise one bad message may have sunk the batch: the single answers below say which.
    }
    // Pushes the batch answer does not confirm go one by one; their request_id lets GeTui drop repeats.
    const rest = requests.map((r, i) => ({ r, i })).filter(({ i }) => outcomes[i] === undefined);
    await mapLimit(rest, SINGLE_CONCURRENCY, async ({ r, i }) => settle(i, await this.send(r)));
    return outcomes as PushOutcome[];
  }

  private singleBody(r: PushRequest): SingleBody | string {
    if (r.requestId.length < 10 || r.requestId.length > 32) return 'request_id must be 10 to 32 characters';
    const payload = JSON.stringify(r.payload);
    if (payload.length > MAX_TRANSMISSION) return `payload is over ${MAX_TRANSMISSION} characters`;
    return {
      request_id: r.requestId,
      settings: { ttl: this.o.ttlMs },
      audience: { cid: [r.cid] },
      push_message: { transmission: payload },
      // Maker channels (Huawei, Xiaomi, OPPO, vivo...) drop pass-through data while the app is not running.
      push_channel: {
        android: {
          ups: {
            notification: {
              title: clip(r.title, MAX_TITLE),
              body: clip(r.body, MAX_BODY),
              click_type: 'payload',
              payload,
              // A repeat of this message's push replaces its notification instead of adding one.
              notify_id: r.notifyId,
            },
          },
        },
      },
    };
  }

  private outcome(answer: GetuiAnswer): PushOutcome {
    const verdict = classifyGetuiAnswer(answer);
    switch (verdict.kind) {
      case 'ok':
        return { kind: 'sent', taskId: firstKey(answer.data) };
      case 'reauth': // 10001 again right after a fresh token: no push can go out
        return { kind: 'retry', reason: 'getui 10001: token refused after re-auth', cause: 'outage' };
      case 'retry':
        if (answer.code === 301) {
          this.o.logger.error(
            { event: 'push.getui_wrong_host', data: answer.data },
            'GeTui says this app lives in another data centre: set GETUI_BASE_URL',
          );
        }
        return verdict;
      default:
        if (answer.code === 10002) {
          this.o.logger.error(
            { event: 'push.getui_blacklisted', msg_text: answer.msg },
            'GeTui refuses this app',
          );
        }
        return verdict;
    }
  }

  private unanswered(err: unknown): PushOutcome {
    if (err instanceof GetuiAuthError)
      return { kind: 'retry', reason: err.reason, retryAfterMs: err.retryAfterMs, cause: err.retryCause };
    return { kind: 'retry', reason: `getui ${describeNetworkError(err)}`, cause: 'outage' };
  }

  /** One API call with the cached token; 10001 (token wrong or expired) re-authenticates and retries once. */
  private async call(path: string, body: object): Promise<GetuiAnswer> {
    const json = JSON.stringify(body);
    const token = await this.tokens.current();
    const first = await this.request(path, json, token);
    if (first.code !== 10001) return first;
    return this.request(path, json, await this.tokens.renew(token));
  }

  private async request(path: string, body: string, token?: string): Promise<GetuiAnswer> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json;charset=utf-8' };
    if (token !== undefined) headers.token = token;
    const res = await post(this.url(path), body, headers, this.o.timeoutMs);
    const j = (res.json ?? {}) as { code?: unknown; msg?: unknown; data?: unknown };
    return {
      httpStatus: res.status,
      code: typeof j.code === 'number' ? j.code : undefined,
      msg: typeof j.msg === 'string' ? j.msg : undefined,
      data: j.data,
      retryAfterMs: parseRetryAfter(res.retryAfter, this.o.now()),
    };
  }

  private url(path: string): string {
    return `${this.o.baseUrl}/${encodeURIComponent(this.o.appId)}${path}`;
  }

  private async auth(): Promise<Token> {
    const timestamp = String(this.o.now());
    const sign = crypto
      .createHash('sha256')
      .update(this.o.appKey + timestamp + this.o.masterSecret, 'utf8')
      .digest('hex');
    const answer = await this.request('/auth', JSON.stringify({ sign, timestamp, appkey: this.o.appKey }));
    const data = (answer.data ?? {}) as { token?: unknown; expire_time?: unknown };
    const expireTime = Number(data.expire_time);
    if (answer.code !== 0 || typeof data.token !== 'string' || !Number.isFinite(expireTime)) {
      const verdict = classifyGetuiAnswer(answer);
      const reason = `getui auth: ${verdict.kind === 'retry' || verdict.kind === 'failed' ? verdict.reason : 'no token in answer'}`;
      this.o.logger.error(
        { event: 'push.getui_auth_failed', code: answer.code, reason },
        'GeTui auth failed',
      );
      // Without a token no push goes out: GeTui is as good as down, and /auth is limited, so a refusal
      // is tried again no sooner than a minute.
      throw verdict.kind === 'retry'
        ? new GetuiAuthError(reason, verdict.cause, verdict.retryAfterMs)
        : new GetuiAuthError(reason, 'outage', ONE_MINUTE);
    }
    const now = this.o.now();
    // Refresh an hour ahead, or halfway through a token that lives less than two hours.
    const ahead = Math.min(REFRESH_AHEAD_MS, Math.max(0, (expireTime - now) / 2));
    this.o.logger.info({ event: 'push.getui_auth', expire_time: expireTime }, 'GeTui token fetched');
    return { value: data.token, refreshAt: expireTime - ahead };
  }
}

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function firstKey(data: unknown): string | undefined {
  return data && typeof data === 'object' ? Object.keys(data)[0] : undefined;
}

/**
 * The batch answer `{taskid: {cid: status}}`, consumed cid by cid in order, so two messages to one device
 * each get their own task. Only successed_* statuses count as accepted.
 */
function acceptedByCid(data: unknown) {
  const entries: { taskId: string; cid: string; used: boolean }[] = [];
  if (data && typeof data === 'object') {
    for (const [taskId, byCid] of Object.entries(data as Record<string, unknown>)) {
      if (!byCid || typeof byCid !== 'object') continue;
      for (const [cid, status] of Object.entries(byCid as Record<string, unknown>)) {
        if (typeof status === 'string' && status.startsWith('successed'))
          entries.push({ taskId, cid, used: false });
      }
    }
  }
  return {
    take(cid: string): string | undefined {
      const e = entries.find((x) => !x.used && x.cid === cid);
      if (!e) return undefined;
      e.used = true;
      return e.taskId;
    },
  };
}
