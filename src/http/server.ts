import crypto from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { errors } from '../errors';
import type { Services } from '../services';
import { requestListener } from './app';

/** An upload that sends nothing for this long is dropped (its temporary file goes with it). */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * Node answers a request its parser refuses (headers over --max-http-header-size, a malformed request line
 * or header, headers not complete within requestTimeout) with an empty 400, 431 or 408; this answers it
 * the same way with the error body every other 4xx has.
 */
function answerParseError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? errors.headersTooLarge()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? errors.requestTimeout()
        : errors.badHttp();
  const body = JSON.stringify({ error: e.code, message: e.message });
  socket.end(
    `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${crypto.randomUUID()}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The node:http server that serves the app: the request listener (lanes in front of Koa) and the
 * connection-level rules. main.ts listens with it; the tests start the same server.
 */
export function createHttpServer(services: Services): http.Server {
  const server = http.createServer(requestListener(services));
  server.timeout = IDLE_TIMEOUT_MS;
  server.on('clientError', answerParseError);
  return server;
}
