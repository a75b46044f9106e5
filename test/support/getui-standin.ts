import crypto from 'node:crypto';
import { HttpStandin, Waiters, type StandinReply, type StandinRequest } from './http-standin';

/**
 * A local GeTui RestAPI v2 that speaks the documented protocol (docs/push-providers.md) and checks it:
 * the auth sign, the `token` header, and the body rules of push/single/cid and push/single/batch/cid.
 * Every broken rule is answered as GeTui would (20001, 10001) and kept in `violations`.
 */
export interface GetuiCredentials {
  appId: string;
  appKey: string;
  masterSecret: string;
}

export interface AcceptedPush {
  requestId: string;
  cid: string;
  taskId: string;
  /** push_message.transmission, parsed. */
  transmission: Record<string, unknown>;
  notification: { title: string; body: string; click_type: string; payload: string; notify_id?: number };
  ttl: number;
  via: 'single' | 'batch';
  /** When it was accepted, by the stand-in's clock. */
  at: number;
}

/** What the next push calls answer instead of processing. */
export type Failure =
  | { status: number; text?: string; retryAfter?: string } // e.g. 503 from a gateway
  | { status: number; code: number; msg: string } // a GeTui answer
  | { acceptThenDrop: true }; // the push is accepted, its answer lost
/** A failure that answers in place of GeTui. */
type Refusal = Exclude<Failure, { acceptThenDrop: true }>;

const CLICK_TYPES = ['intent', 'url', 'payload', 'payload_custom', 'startapp', 'none'];
const TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;

export class GetuiStandin {
  readonly credentials: GetuiCredentials = {
    appId: 'standinApp01',
    appKey: 'standinKey02',
    masterSecret: `master-${crypto.randomBytes(8).toString('hex')}`,
  };
  authCalls = 0;
  /** Push calls answered with an injected failure (failNext). */
  failedCalls = 0;
  /** Every push call processed: single or batch, and how many messages it carried. */
  readonly pushCalls: { kind: 'single' | 'batch'; size: number }[] = [];
  readonly accepted: AcceptedPush[] = [];
  /** Pushes whose request_id was accepted before: GeTui drops them silently. */
  readonly repeats: string[] = [];
  readonly violations: string[] = [];
  readonly invalidCids = new Set<string>();
  readonly issuedTokens: string[] = [];
  private readonly liveTokens = new Set<string>();
  private failures: Failure[] = [];
  /** While set, every call (auth included) answers with it: GeTui is down. */
  private down: Refusal | null = null;
  private gate: { opened: Promise<void>; waiting: number } | null = null;
  private readonly waiters = new Waiters();
  private readonly http = new HttpStandin((req) => this.handle(req));
  /** The clock of expire_time; tests with a fake clock share it. */
  now: () => number = () => Date.now();

  get baseUrl(): string {
    return `${this.http.origin}/v2`;
  }

  /** Settings for startTestApp. */
  env(): Record<string, string> {
    return {
      PUSH_PROVIDER: 'getui',
      GETUI_APP_ID: this.credentials.appId,
      GETUI_APP_KEY: this.credentials.appKey,
      GETUI_MASTER_SECRET: this.credentials.masterSecret,
      GETUI_BASE_URL: this.baseUrl,
    };
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** The next n push calls answer with `failure`. */
  failNext(n: number, failure: Failure): void {
    for (let i = 0; i < n; i++) this.failures.push(failure);
  }

  /**
   * GeTui goes down until recover(): every call answers with `failure` (by default a gateway's 503 page), or
   * with 'refuse' connections to its port are refused.
   */
  async outage(failure: Refusal | 'refuse' = { status: 503 }): Promise<void> {
    if (failure === 'refuse') await this.http.refuseConnections();
    else this.down = failure;
  }

  /** GeTui is back: calls are processed again. */
  async recover(): Promise<void> {
    this.down = null;
    await this.http.start();
  }

  /** Every issued token stops working, as when one expires on GeTui's side: calls answer 10001. */
  expireTokens(): void {
    this.liveTokens.clear();
  }

  /** Push calls wait until the returned function is called; `arrived` resolves when one is waiting. */
  hold(): { release: () => void; arrived: Promise<void> } {
    let release!: () => void;
    const opened = new Promise<void>((resolve) => (release = resolve));
    const gate = { opened, waiting: 0 };
    this.gate = gate;
    return {
      release: () => {
        this.gate = null;
        release();
      },
      arrived: this.waiters.until(() => gate.waiting > 0),
    };
  }

  /** Resolves once `n` pushes have been accepted. */
  waitForAccepted(n: number): Promise<void> {
    return this.waiters.until(() => this.accepted.length >= n);
  }

  acceptedFor(requestId: string): AcceptedPush[] {
    return this.accepted.filter((p) => p.requestId === requestId);
  }

  private violation(text: string): StandinReply {
    this.violations.push(text);
    return { status: 400, body: { code: 20001, msg: text, data: null } };
  }

  private async handle(req: StandinRequest): Promise<StandinReply> {
    const prefix = `/v2/${this.credentials.appId}`;
    if (!req.path.startsWith(`${prefix}/`)) return this.violation(`unknown path ${req.path}`);
    if (req.method !== 'POST') return this.violation(`${req.method} ${req.path}`);
    if (!/^application\/json/.test(req.headers['content-type'] ?? '')) {
      return this.violation(`content-type ${req.headers['content-type']}`);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return this.violation('body is not JSON');
    }
    const path = req.path.slice(prefix.length);
    if (this.down) return this.fail(this.down);
    if (path === '/auth') return this.auth(body);
    const token = req.headers.token;
    if (typeof token !== 'string' || !this.liveTokens.has(token)) {
      return { status: 401, body: { code: 10001, msg: 'token is wrong or expired', data: null } };
    }
    if (path !== '/push/single/cid' && path !== '/push/single/batch/cid')
      return this.violation(`unknown ${path}`);

    if (this.gate) {
      this.gate.waiting += 1;
      this.waiters.notify();
      await this.gate.opened;
    }
    const failure = this.failures.shift();
    if (failure && !('acceptThenDrop' in failure)) return this.fail(failure);
    const reply = path === '/push/single/cid' ? this.single(body) : this.batch(body);
    this.waiters.notify();
    return failure && 'acceptThenDrop' in failure ? { ...reply, drop: true } : reply;
  }

  /** An injected failure's answer. */
  private fail(failure: Refusal): StandinReply {
    this.failedCalls += 1;
    if ('code' in failure) return { status: failure.status, body: { code: failure.code, msg: failure.msg } };
    return {
      status: failure.status,
      body: failure.text ?? 'Service Unavailable',
      headers: failure.retryAfter ? { 'Retry-After': failure.retryAfter } : {},
    };
  }

  private auth(body: Record<string, unknown>): StandinReply {
    this.authCalls += 1;
    const { sign, timestamp, appkey } = body;
    const { appKey, masterSecret } = this.credentials;
    if (appkey !== appKey) return this.violation(`auth: appkey ${String(appkey)}`);
    if (typeof timestamp !== 'string' || !/^\d{13}$/.test(timestamp))
      return this.violation('auth: timestamp');
    const expected = crypto
      .createHash('sha256')
      .update(appKey + timestamp + masterSecret)
      .digest('hex');
    if (sign !== expected) return this.violation('auth: wrong sign');
    const token = crypto.randomBytes(16).toString('hex');
    this.liveTokens.add(token);
    this.issuedTokens.push(token);
    return {
      status: 200,
      body: { code: 0, msg: '', data: { expire_time: String(this.now() + TOKEN_LIFETIME_MS), token } },
    };
  }

  /** Checks one push body; returns the broken rule, if any. */
  private check(m: Record<string, unknown>): string | null {
    const requestId = m.request_id;
    if (typeof requestId !== 'string' || requestId.length < 10 || requestId.length > 32) return 'request_id';
    const ttl = (m.settings as { ttl?: unknown } | undefined)?.ttl;
    if (typeof ttl !== 'number' || ttl < -1 || ttl > 259_200_000) return 'settings.ttl';
    const cids = (m.audience as { cid?: unknown } | undefined)?.cid;
    if (!Array.isArray(cids) || cids.length !== 1 || typeof cids[0] !== 'string')
      return 'audience.cid: exactly one';
    const pm = (m.push_message ?? {}) as Record<string, unknown>;
    const kinds = ['notification', 'transmission', 'revoke'].filter((k) => k in pm);
    if (kinds.length !== 1) return 'push_message: exactly one of notification, transmission, revoke';
    if (typeof pm.transmission !== 'string' || pm.transmission.length > 3072) return 'transmission';
    const n = (
      m.push_channel as { android?: { ups?: { notification?: Record<string, unknown> } } } | undefined
    )?.android?.ups?.notification;
    if (!n) return 'push_channel.android.ups.notification';
    if (typeof n.title !== 'string' || !n.title || [...n.title].length > 50) return 'notification.title';
    if (typeof n.body !== 'string' || !n.body || [...n.body].length > 256) return 'notification.body';
    if (!CLICK_TYPES.includes(n.click_type as string)) return 'notification.click_type';
    if (n.click_type === 'payload' && (typeof n.payload !== 'string' || n.payload.length > 3072)) {
      return 'notification.payload';
    }
    const notifyId = n.notify_id;
    if (
      notifyId !== undefined &&
      !(Number.isInteger(notifyId) && (notifyId as number) >= 0 && (notifyId as number) <= 2_147_483_647)
    ) {
      return 'notification.notify_id: an integer in [0, 2147483647]';
    }
    return null;
  }

  /** Accepts one checked push; a repeated request_id is dropped and answers like the first. */
  private accept(m: Record<string, unknown>, via: 'single' | 'batch'): AcceptedPush {
    const requestId = m.request_id as string;
    const first = this.accepted.find((p) => p.requestId === requestId);
    if (first) {
      this.repeats.push(requestId);
      return first;
    }
    const pm = m.push_message as { transmission: string };
    const push: AcceptedPush = {
      requestId,
      cid: (m.audience as { cid: string[] }).cid[0],
      taskId: `RASS_${crypto.randomBytes(8).toString('hex')}`,
      transmission: JSON.parse(pm.transmission) as Record<string, unknown>,
      notification: (m.push_channel as { android: { ups: { notification: AcceptedPush['notification'] } } })
        .android.ups.notification,
      ttl: (m.settings as { ttl: number }).ttl,
      via,
      at: this.now(),
    };
    this.accepted.push(push);
    return push;
  }

  private single(body: Record<string, unknown>): StandinReply {
    this.pushCalls.push({ kind: 'single', size: 1 });
    const broken = this.check(body);
    if (broken) return this.violation(`push/single/cid: ${broken}`);
    const cid = (body.audience as { cid: string[] }).cid[0];
    if (this.invalidCids.has(cid))
      return { status: 400, body: { code: 20001, msg: 'target user is invalid' } };
    const push = this.accept(body, 'single');
    return {
      status: 200,
      body: { code: 0, msg: '', data: { [push.taskId]: { [cid]: 'successed_offline' } } },
    };
  }

  /** A batch with an invalid cid is refused whole here (the real service's choice is undocumented). */
  private batch(body: Record<string, unknown>): StandinReply {
    const list = body.msg_list;
    if (body.is_async !== false) return this.violation('batch: is_async must be false');
    if (!Array.isArray(list) || list.length < 1 || list.length > 200)
      return this.violation('batch: 1 to 200');
    this.pushCalls.push({ kind: 'batch', size: list.length });
    for (const m of list as Record<string, unknown>[]) {
      const broken = this.check(m);
      if (broken) return this.violation(`push/single/batch/cid: ${broken}`);
      if (this.invalidCids.has((m.audience as { cid: string[] }).cid[0])) {
        return { status: 400, body: { code: 20001, msg: 'target user is invalid' } };
      }
    }
    const data: Record<string, Record<string, string>> = {};
    for (const m of list as Record<string, unknown>[]) {
      const push = this.accept(m, 'batch');
      data[push.taskId] = { [push.cid]: 'successed_online' };
    }
    return { status: 200, body: { code: 0, msg: '', data } };
  }
}
