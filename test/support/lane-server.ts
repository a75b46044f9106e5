import http from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { createApp } from '../../src/http/app';
import type { Services } from '../../src/services';

export interface LaneServer {
  agent: supertest.Agent;
  port: number;
  /** Requests the lane handed to the Koa app so far. */
  koaAnswered(): number;
  close(): Promise<void>;
}

/**
 * A second server on the same services: one lane (withSendLane, withDownloadLane) in front of a Koa app that
 * counts the requests handed to it, so that a test sees which side answered.
 */
export async function startLaneServer(
  services: Services,
  withLane: (services: Services, app: http.RequestListener) => http.RequestListener,
): Promise<LaneServer> {
  const koa = createApp(services).callback();
  let handed = 0;
  const server = http.createServer(
    withLane(services, (req, res) => {
      handed += 1;
      return koa(req, res);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    agent: supertest.agent(`http://127.0.0.1:${port}`),
    port,
    koaAnswered: () => handed,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
