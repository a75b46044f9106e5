import http from 'node:http';
import type { Services } from '../services';
import { requestListener } from './app';

/** An upload that sends nothing for this long is dropped (its temporary file goes with it). */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * The node:http server that serves the app: the request listener (lanes in front of Koa) and the
 * connection-level rules. main.ts listens with it; the tests start the same server.
 */
export function createHttpServer(services: Services): http.Server {
  const server = http.createServer(requestListener(services));
  server.timeout = IDLE_TIMEOUT_MS;
  return server;
}
