import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandinRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface StandinReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Close the connection instead of answering: the answer is lost on its way back. */
  drop?: boolean;
}

/** A real HTTP server on a random loopback port, for the stand-ins of external services. */
export class HttpStandin {
  private server?: http.Server;
  port = 0;

  constructor(private readonly handle: (req: StandinRequest) => Promise<StandinReply> | StandinReply) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on a random loopback port, or again on the same one after refuseConnections(). */
  async start(): Promise<this> {
    if (this.server?.listening) return this;
    this.server ??= http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        void Promise.resolve(this.handle(request)).then(
          (reply) => {
            if (reply.drop) {
              res.socket?.destroy();
              return;
            }
            const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
            res.writeHead(reply.status, {
              'Content-Type':
                typeof reply.body === 'string' ? 'text/plain' : 'application/json;charset=utf-8',
              ...reply.headers,
            });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
            res.end(`stand-in error: ${err.message}`);
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /**
   * Stops listening and drops every open connection, as a host that is down: connections to the port are
   * refused until start() listens on it again.
   */
  async refuseConnections(): Promise<void> {
    if (!this.server?.listening) return;
    const closed = new Promise((resolve) => this.server!.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }
}

/** Resolves when `check` turns true; re-checked by whoever calls notify(). */
export class Waiters {
  private waiting: { check: () => boolean; resolve: () => void }[] = [];

  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ check, resolve }));
  }

  notify(): void {
    this.waiting = this.waiting.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}
