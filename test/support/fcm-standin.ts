import crypto from 'node:crypto';
import { FCM_SCOPE } from '../../src/push/fcm-client';
import { HttpStandin, Waiters, type StandinReply, type StandinRequest } from './http-standin';

/**
 * A local Google OAuth2 token endpoint and FCM HTTP v1 send endpoint. It verifies the JWT assertion's
 * RS256 signature with the service account's public key and its claims, the bearer token on each send,
 * and the message rules: string-only data, android.priority HIGH, ttl as a duration, 4096-byte payload,
 * string collapse_key and notification fields.
 */
export interface FcmAccepted {
  name: string;
  token: string;
  data: Record<string, string>;
  android: {
    priority: string;
    ttl: string;
    collapse_key?: string;
    notification?: { title?: string; body?: string; tag?: string };
  };
}

/** The registration token a send is for ('' when the body is not a message). */
function tokenOf(body: string): string {
  try {
    return String((JSON.parse(body) as { message?: { token?: unknown } }).message?.token ?? '');
  } catch {
    return '';
  }
}

export type FcmFailure = { status: number; errorStatus: string; errorCode?: string; retryAfter?: string };

export class FcmStandin {
  readonly projectId = 'pushpic-standin';
  readonly clientEmail = 'pushpic@pushpic-standin.iam.gserviceaccount.com';
  readonly keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  tokenCalls = 0;
  failedCalls = 0;
  readonly accepted: FcmAccepted[] = [];
  readonly violations: string[] = [];
  readonly unregistered = new Set<string>();
  readonly issuedTokens: string[] = [];
  private readonly liveTokens = new Set<string>();
  private failures: FcmFailure[] = [];
  private gate: { opened: Promise<void>; waiting: number; match: (token: string) => boolean } | null = null;
  private readonly waiters = new Waiters();
  private readonly http = new HttpStandin((req) => this.handle(req));

  get tokenUrl(): string {
    return `${this.http.origin}/token`;
  }

  get baseUrl(): string {
    return `${this.http.origin}/v1`;
  }

  /** A service-account key file as Google issues it (token_uri left at Google's: FCM_TOKEN_URL overrides it). */
  serviceAccountJson(): string {
    return JSON.stringify({
      type: 'service_account',
      project_id: this.projectId,
      private_key_id: 'standin-key-1',
      private_key: this.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: this.clientEmail,
      token_uri: 'https://oauth2.googleapis.com/token',
    });
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  failNext(n: number, failure: FcmFailure): void {
    for (let i = 0; i < n; i++) this.failures.push(failure);
  }

  /** Forgets the failures failNext queued and not yet answered. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /**
   * Sends wait (their request read, nothing answered) until the returned function is called; `arrived`
   * resolves once `n` are waiting. Released, each is processed as if it had just arrived: one whose
   * client has gone meanwhile is still accepted, as FCM does with a request it received whole.
   */
  hold(
    n = 1,
    match: (token: string) => boolean = () => true,
  ): { release: () => void; arrived: Promise<void>; waiting: () => number } {
    let release!: () => void;
    const opened = new Promise<void>((resolve) => (release = resolve));
    const gate = { opened, waiting: 0, match };
    this.gate = gate;
    return {
      release: () => {
        this.gate = null;
        release();
      },
      arrived: this.waiters.until(() => gate.waiting >= n),
      waiting: () => gate.waiting,
    };
  }

  /** Every access token issued so far stops working: sends answer 401. */
  expireTokens(): void {
    this.liveTokens.clear();
  }

  waitForAccepted(n: number): Promise<void> {
    return this.waiters.until(() => this.accepted.length >= n);
  }

  private violation(status: number, text: string): StandinReply {
    this.violations.push(text);
    return { status, body: { error: { code: status, status: 'INVALID_ARGUMENT', message: text } } };
  }

  private async handle(req: StandinRequest): Promise<StandinReply> {
    if (req.method === 'POST' && req.path === '/token') return this.token(req);
    if (req.method === 'POST' && req.path === `/v1/projects/${this.projectId}/messages:send`) {
      const gate = this.gate;
      if (gate && gate.match(tokenOf(req.body))) {
        gate.waiting += 1;
        this.waiters.notify();
        await gate.opened;
      }
      return this.send(req);
    }
    return this.violation(404, `unknown ${req.method} ${req.path}`);
  }

  private token(req: StandinRequest): StandinReply {
    this.tokenCalls += 1;
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
      return this.violation(400, `token: content-type ${req.headers['content-type']}`);
    }
    const form = new URLSearchParams(req.body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return this.violation(400, 'token: grant_type');
    }
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return this.violation(400, 'token: assertion is not a JWT');
    const [header, claims] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    const signed = crypto.verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      this.keys.publicKey,
      Buffer.from(parts[2], 'base64url'),
    );
    if (header.alg !== 'RS256' || !signed) return this.violation(400, 'token: signature does not verify');
    if (claims.iss !== this.clientEmail) return this.violation(400, 'token: iss');
    if (claims.scope !== FCM_SCOPE) return this.violation(400, 'token: scope');
    if (claims.aud !== this.tokenUrl) return this.violation(400, `token: aud ${claims.aud}`);
    const iat = claims.iat as number;
    if (!Number.isInteger(iat) || claims.exp <= iat || claims.exp - iat > 3600)
      return this.violation(400, 'token: exp');
    const token = `ya29.${crypto.randomBytes(16).toString('hex')}`;
    this.liveTokens.add(token);
    this.issuedTokens.push(token);
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  }

  private send(req: StandinRequest): StandinReply {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.liveTokens.has(auth.slice(7))) {
      return {
        status: 401,
        body: { error: { code: 401, status: 'UNAUTHENTICATED', message: 'bad credentials' } },
      };
    }
    const failure = this.failures.shift();
    if (failure) {
      this.failedCalls += 1;
      return {
        status: failure.status,
        headers: failure.retryAfter ? { 'Retry-After': failure.retryAfter } : {},
        body: {
          error: {
            code: failure.status,
            status: failure.errorStatus,
            details: failure.errorCode
              ? [
                  {
                    '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError',
                    errorCode: failure.errorCode,
                  },
                ]
              : [],
          },
        },
      };
    }
    const body = JSON.parse(req.body) as { message?: Record<string, unknown> };
    const m = body.message;
    if (!m || Object.keys(body).some((k) => k !== 'message' && k !== 'validate_only')) {
      return this.violation(400, 'send: body must be {message}');
    }
    if (typeof m.token !== 'string' || !m.token) return this.violation(400, 'send: token');
    const data = m.data as Record<string, unknown>;
    if (!data || Object.values(data).some((v) => typeof v !== 'string')) {
      return this.violation(400, 'send: data values must be strings');
    }
    if (Buffer.byteLength(JSON.stringify(data)) > 4096)
      return this.violation(400, 'send: payload over 4096 bytes');
    const android = m.android as FcmAccepted['android'] | undefined;
    if (android?.priority !== 'HIGH') return this.violation(400, 'send: android.priority');
    if (!/^\d+(\.\d{1,9})?s$/.test(android.ttl ?? '')) return this.violation(400, 'send: android.ttl');
    if (android.collapse_key !== undefined && typeof android.collapse_key !== 'string')
      return this.violation(400, 'send: android.collapse_key');
    const n = android.notification;
    if (
      n !== undefined &&
      ['title', 'body', 'tag'].some((k) => !['string', 'undefined'].includes(typeof n[k as 'tag']))
    )
      return this.violation(400, 'send: android.notification');
    if (this.unregistered.has(m.token)) {
      return {
        status: 404,
        body: {
          error: {
            code: 404,
            status: 'NOT_FOUND',
            message: 'Requested entity was not found.',
            details: [
              { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' },
            ],
          },
        },
      };
    }
    const name = `projects/${this.projectId}/messages/0:${crypto.randomBytes(8).toString('hex')}`;
    this.accepted.push({
      name,
      token: m.token,
      data: data as Record<string, string>,
      android,
    });
    this.waiters.notify();
    return { status: 200, body: { name } };
  }
}
