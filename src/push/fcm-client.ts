import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../config';
import type { Logger } from '../logger';
import { describeNetworkError, parseRetryAfter, post } from './http';
import type { PushOutcome, PushProvider, PushRequest } from './push-provider';
import { TokenCache, type Token } from './token-cache';

// Facts from FCM HTTP v1 and Google's OAuth2 service-account flow (docs/push-providers.md).
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MAX_PAYLOAD_BYTES = 4096;
/** google-auth-library refreshes five minutes before expiry; so do we. */
const REFRESH_AHEAD_MS = 5 * 60 * 1000;
const ONE_MINUTE = 60_000;

export interface ServiceAccount {
  clientEmail: string;
  privateKey: crypto.KeyObject;
  privateKeyId: string | null;
  /** FCM_PROJECT_ID, else the file's project_id. */
  projectId: string;
  tokenUri: string | null;
}

/**
 * Reads a service-account key file; every problem with it is reported at once, as config problems are.
 * FCM_PROJECT_ID, when set, names the project instead of the file's project_id.
 */
export function loadServiceAccount(file: string, projectId: string | null): ServiceAccount {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([
      `FCM_SERVICE_ACCOUNT_FILE: cannot read ${file} as JSON (${(err as Error).message})`,
    ]);
  }
  const problems: string[] = [];
  const text = (key: string) => (typeof raw[key] === 'string' && raw[key] ? (raw[key] as string) : null);
  if (!text('client_email')) problems.push('FCM_SERVICE_ACCOUNT_FILE: client_email is missing');
  let privateKey: crypto.KeyObject | undefined;
  try {
    privateKey = crypto.createPrivateKey(text('private_key') ?? '');
  } catch {
    problems.push('FCM_SERVICE_ACCOUNT_FILE: private_key is missing or not a PEM private key');
  }
  if (!projectId && !text('project_id')) {
    problems.push('FCM_PROJECT_ID: not set, and the service account file names no project_id');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    clientEmail: text('client_email')!,
    privateKey: privateKey!,
    privateKeyId: text('private_key_id'),
    projectId: projectId ?? text('project_id')!,
    tokenUri: text('token_uri'),
  };
}

export interface FcmOptions {
  account: ServiceAccount;
  /** e.g. https://fcm.googleapis.com/v1 */
  baseUrl: string;
  /** Defaults to the service account's token_uri, else Google's. */
  tokenUrl: string | null;
  /** android.ttl: how long FCM keeps a push for an offline device. */
  ttlMs: number;
  timeoutMs: number;
  logger: Logger;
  now: () => number;
}

class FcmAuthError extends Error {}

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/** Firebase Cloud Messaging HTTP v1: one data message per request (v1 has no batch call). */
export class FcmClient implements PushProvider {
  readonly name = 'fcm';
  private readonly tokenUrl: string;
  private readonly tokens: TokenCache;

  constructor(private readonly o: FcmOptions) {
    this.tokenUrl = o.tokenUrl ?? o.account.tokenUri ?? GOOGLE_TOKEN_URL;
    this.tokens = new TokenCache(() => this.exchange(), o.now);
  }

  async send(request: PushRequest): Promise<PushOutcome> {
    // Data values must be strings.
    const data = Object.fromEntries(Object.entries(request.payload).map(([k, v]) => [k, String(v)]));
    // A data message, no notification: the app's onMessageReceived runs in the background too, so it can
    // fetch the pending list and show its own notification with the preview, tagged by message_id. FCM has
    // no idempotency key: a push repeated after a lost answer or a crash is delivered again, and the app
    // deduplicates on message_id. No collapse key: FCM keeps at most four of them per offline device,
    // with no saying which, while it stores up to 100 non-collapsible messages.
    const body = JSON.stringify({
      message: {
        token: request.cid,
        data,
        android: { priority: 'HIGH', ttl: `${this.o.ttlMs / 1000}s` },
      },
    });
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_PAYLOAD_BYTES) {
      return { kind: 'failed', reason: `payload is over ${MAX_PAYLOAD_BYTES} bytes` };
    }
    try {
      const token = await this.tokens.current();
      let answer = await this.request(body, token);
      if (answer.status === 401) answer = await this.request(body, await this.tokens.renew(token));
      return this.outcome(answer);
    } catch (err) {
      // Without an access token no push goes out: FCM is as good as down for us.
      if (err instanceof FcmAuthError)
        return { kind: 'retry', reason: err.message, retryAfterMs: ONE_MINUTE, cause: 'outage' };
      return { kind: 'retry', reason: `fcm ${describeNetworkError(err)}`, cause: 'outage' };
    }
  }

  private request(body: string, token: string) {
    const url = `${this.o.baseUrl}/projects/${encodeURIComponent(this.o.account.projectId)}/messages:send`;
    return post(
      url,
      body,
      { 'Content-Type': 'application/json; charset=utf-8', Authorization: `Bearer ${token}` },
      this.o.timeoutMs,
    );
  }

  private outcome(answer: { status: number; json: unknown; retryAfter: string | null }): PushOutcome {
    if (answer.status === 200) {
      const name = (answer.json as { name?: unknown } | undefined)?.name;
      return { kind: 'sent', taskId: typeof name === 'string' ? name : undefined };
    }
    const error = (answer.json as { error?: FcmError } | undefined)?.error;
    const code =
      error?.details?.find((d) => typeof d?.errorCode === 'string')?.errorCode ??
      error?.status ??
      'no error code';
    const reason = `fcm ${code} (HTTP ${answer.status})`;
    const retryAfterMs = parseRetryAfter(answer.retryAfter, this.o.now());
    if (code === 'UNREGISTERED') return { kind: 'invalid_target', reason };
    if (answer.status === 429 || code === 'QUOTA_EXCEEDED') {
      // FCM says the same for the project's quota and for too many messages to one device: back off
      // this push, not every other device's.
      return { kind: 'retry', reason, retryAfterMs: Math.max(ONE_MINUTE, retryAfterMs ?? 0), cause: 'job' };
    }
    // UNAVAILABLE, INTERNAL, any 5xx; 401 after a fresh token: no push would go through.
    if (answer.status >= 500 || answer.status === 401)
      return { kind: 'retry', reason, retryAfterMs, cause: 'outage' };
    return { kind: 'failed', reason }; // INVALID_ARGUMENT, SENDER_ID_MISMATCH and other refusals
  }

  /** The OAuth2 JWT bearer grant (RFC 7523): a signed assertion traded for an access token. */
  private async exchange(): Promise<Token> {
    const { account } = this.o;
    const iat = Math.floor(this.o.now() / 1000);
    const header = {
      alg: 'RS256',
      typ: 'JWT',
      ...(account.privateKeyId ? { kid: account.privateKeyId } : {}),
    };
    const claims = { iss: account.clientEmail, scope: FCM_SCOPE, aud: this.tokenUrl, iat, exp: iat + 3600 };
    const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = crypto.sign('sha256', Buffer.from(unsigned), account.privateKey);
    const form = new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: `${unsigned}.${b64url(signature)}`,
    });
    const answer = await post(
      this.tokenUrl,
      form.toString(),
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      this.o.timeoutMs,
    );
    const j = (answer.json ?? {}) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (answer.status !== 200 || typeof j.access_token !== 'string') {
      const reason = `fcm token exchange: HTTP ${answer.status}${typeof j.error === 'string' ? ` ${j.error}` : ''}`;
      this.o.logger.error(
        { event: 'push.fcm_auth_failed', status: answer.status, reason },
        'FCM token exchange failed',
      );
      throw new FcmAuthError(reason);
    }
    const lifetimeMs = (Number(j.expires_in) || 3600) * 1000;
    const now = this.o.now();
    const token = {
      value: j.access_token as string,
      refreshAt: now + lifetimeMs - Math.min(REFRESH_AHEAD_MS, lifetimeMs / 2),
    };
    this.o.logger.info({ event: 'push.fcm_auth', expires_in: lifetimeMs / 1000 }, 'FCM access token fetched');
    return token;
  }
}

interface FcmError {
  code?: number;
  status?: string;
  details?: { '@type'?: string; errorCode?: string }[];
}
