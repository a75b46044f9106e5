/**
 * What the receiver's app gets in a push, and what GET /v1/messages lists: the original protocol's payload
 * (sender_region, sender_phone, message_id, message_key, send_time) plus filetype, sender_uid, size, and
 * what an app shows before downloading: the displayed width and height and a blurhash preview.
 */
export interface MessagePayload {
  sender_region: string;
  /** The sender's phone_hash, never the number itself. */
  sender_phone: string;
  sender_uid: number;
  message_id: number;
  message_key: string;
  send_time: number;
  filetype: string;
  size: number;
  /** Pixels as displayed (the stored file's EXIF orientation applied); null for older messages. */
  width: number | null;
  height: number | null;
  /** A blurhash (https://blurha.sh) of the displayed photo, about 30 characters; null when PUSH_PREVIEW=off. */
  blurhash: string | null;
}

export interface PushRequest {
  /** Stable for one push job across its retries, so a provider can drop duplicates (GeTui request_id). */
  requestId: string;
  /** The receiver's push client id (GeTui cid or FCM registration token). */
  cid: string;
  payload: MessagePayload;
  /** What a maker channel shows while the app is not running. */
  title: string;
  body: string;
  /**
   * The same for every push of one message, so that a repeat on a maker channel replaces the notification
   * rather than adds one: GeTui's notify_id, an integer in [0, 2147483647].
   */
  notifyId: number;
}

/**
 * Why a push should be tried again. outage: the provider is down (network error, timeout, 5xx, "busy"),
 * whatever the job. rate_limit: the provider limits our calls (app-wide): every call waits for
 * retryAfterMs. job: something about this push; it backs off alone.
 */
export type RetryCause = 'outage' | 'rate_limit' | 'job';

export type PushOutcome =
  | { kind: 'sent'; taskId?: string }
  | { kind: 'retry'; reason: string; retryAfterMs?: number; cause: RetryCause }
  | { kind: 'invalid_target'; reason: string }
  | { kind: 'failed'; reason: string };

/**
 * A push service. Implementations never throw for a provider's answer or a network failure: they map it to
 * an outcome (retry for anything transient).
 */
export interface PushProvider {
  readonly name: string;
  send(request: PushRequest): Promise<PushOutcome>;
  /**
   * Several pushes in one call, outcomes in the order of the requests. Providers without a batch call leave
   * it out and are sent one request at a time. onOutcome, when given, hears each outcome as soon as it is
   * known (a batch answer, then each single push it falls back to), so it can be recorded at once.
   */
  sendBatch?(
    requests: PushRequest[],
    onOutcome?: (index: number, outcome: PushOutcome) => void,
  ): Promise<PushOutcome[]>;
  /** The most requests sendBatch takes at once. */
  readonly maxBatch?: number;
}
