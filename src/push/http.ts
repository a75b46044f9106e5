import fetch from 'node-fetch';

export interface HttpAnswer {
  status: number;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  retryAfter: string | null;
}

/**
 * One POST to a provider. Resolves with whatever status came back (providers put their answer in the body
 * even on 4xx); rejects only when no answer arrived (network error, timeout).
 */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  const res = await fetch(url, { method: 'POST', body, headers, timeout: timeoutMs, redirect: 'error' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, retryAfter: res.headers.get('retry-after') };
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A short description of a failure that reached no answer, for logs and last_error. */
export function describeNetworkError(err: unknown): string {
  const e = err as { type?: string; code?: string; message?: string };
  if (e?.type === 'request-timeout') return 'timeout';
  return `network: ${e?.code ?? e?.message ?? String(err)}`;
}
