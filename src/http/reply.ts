import type http from 'node:http';

/** Writes a JSON answer on a bare node:http response, as the Koa app would (the request id included). */
export function replyJson(
  res: http.ServerResponse,
  requestId: string,
  status: number,
  headers: Record<string, string>,
  body: object,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'X-Request-Id': requestId,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
