import crypto from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { errors } from '../errors';
import { requestLogger } from '../logger';
import type { Services } from '../services';
import { requestListener } from './app';
import { defaultLingerBounds, lingerAfterAnswer, type LingerBounds } from './linger';
import { errorReply } from './middleware/errors';
import { countRequest } from './middleware/metrics';
import { declaredTooLarge } from './middleware/multipart';
import { logRequest, requestIdOf } from './middleware/request-context';
import { replyJson } from './reply';

/** An upload that sends nothing for this long is dropped (its temporary file goes with it). */
const IDLE_TIMEOUT_MS = 60_000;
/** Node's own defaults, stated: the headers within a minute, the whole request within five (408). */
const HEADERS_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 300_000;
const UPLOAD_ROUTE = '/v1/messages';
/** How much of a refused body is read after the answer on any route but the upload. */
const OTHER_BODY_LINGER_BYTES = 1024 * 1024;
/** The upload route as the router matches it: with or without a trailing slash, any query. */
const UPLOAD_PATH = /^\/v1\/messages\/?(\?|$)/;

export interface HttpServerOptions {
  /** How much of a body answered early is still read (tests shrink it). */
  linger?: LingerBounds;
}

/**
 * Node answers a request its parser refuses (headers over --max-http-header-size, a malformed request line
 * or header, headers not complete within requestTimeout) with an empty 400, 431 or 408; this answers it
 * the same way with the error body every other 4xx has.
 */
function answerParseError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Once a response has started on this connection (a download streaming, a pipelined request after it),
  // an answer written now would land inside it: the connection can only be cut, as node does.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || inFlight?.headersSent) {
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
 * connection-level rules: a body answered before it has all arrived is read for a bounded time
 * (./linger.ts), and an upload that waits for `100 Continue` with a declared length over the limit is
 * answered 413 at once, so the phone never sends it. main.ts listens with it; the tests start the same
 * server.
 */
export function createHttpServer(services: Services, options: HttpServerOptions = {}): http.Server {
  const { config, logger, metrics } = services;
  const bounds = options.linger ?? defaultLingerBounds(config.maxUploadBytes);
  const small = { ...bounds, bytes: Math.min(bounds.bytes, OTHER_BODY_LINGER_BYTES) };
  const listener = requestListener(services);
  const server = http.createServer((req, res) => {
    // Only the upload route takes bodies of photo size; a refused body elsewhere is read far less.
    lingerAfterAnswer(req, res, req.method === 'POST' && UPLOAD_PATH.test(req.url ?? '') ? bounds : small);
    listener(req, res);
  });
  server.timeout = IDLE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('clientError', answerParseError);

  server.on('checkContinue', (req, res) => {
    const isUpload = req.method === 'POST' && UPLOAD_PATH.test(req.url ?? '');
    const refusal = isUpload ? declaredTooLarge(req, config.maxUploadBytes) : null;
    if (!refusal) {
      res.writeContinue();
      server.emit('request', req, res);
      return;
    }
    // Before a byte of the body: the client sends none, and the connection, left without the body it
    // announced, cannot serve another request.
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const reply = errorReply(refusal, requestLogger(logger, requestId));
    replyJson(res, requestId, reply.status, { ...reply.headers, Connection: 'close' }, reply.body);
    logRequest(logger, requestId, 'POST', UPLOAD_ROUTE, reply.status, started);
    countRequest(metrics, 'POST', UPLOAD_ROUTE, reply.status, started);
  });
  return server;
}
