import net from 'node:net';

/** What the stand-in does with one connection, in the order connections arrive. */
export type PgAnswer =
  /** FATAL 57P03, as a PostgreSQL server still starting up (or in recovery) answers. */
  | 'starting'
  /** FATAL 28P01, as a server refusing the password answers. */
  | 'bad-password'
  /** Hands the connection to the real server at `upstream`. */
  | 'proxy';

const MESSAGES: Record<Exclude<PgAnswer, 'proxy'>, [string, string]> = {
  starting: ['57P03', 'the database system is starting up'],
  'bad-password': ['28P01', 'password authentication failed for user "postgres"'],
};

/** An ErrorResponse message of the PostgreSQL frontend/backend protocol (v3). */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    ...[
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', code],
      ['M', message],
    ].map(([type, value]) => Buffer.from(`${type}${value}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

/**
 * A PostgreSQL server on a loopback port that answers each connection's startup message as told: with an
 * error a real server sends before authentication, or by passing the connection on to a real server.
 * Connections beyond the list are answered like the last entry.
 */
export class PostgresStandin {
  private readonly server = net.createServer((socket) => this.answer(socket));
  private readonly sockets = new Set<net.Socket>();
  /** How many connections arrived. */
  connections = 0;
  port = 0;

  /** upstream: the real server's URL, whose user and database url() keeps. */
  constructor(
    private readonly answers: PgAnswer[],
    private readonly upstream = new URL('postgres://postgres@127.0.0.1:5432/test'),
  ) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** A DATABASE_URL for this stand-in, with the user and database of the real server's URL. */
  url(): string {
    const url = new URL(this.upstream.href);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.href;
  }

  private answer(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const answer = this.answers[Math.min(this.connections, this.answers.length - 1)];
    this.connections += 1;
    if (answer === 'proxy') {
      const upstream = net.connect(Number(this.upstream.port || 5432), this.upstream.hostname);
      upstream.on('error', () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
      socket.on('close', () => upstream.destroy());
      return;
    }
    // The startup message comes first (a length-prefixed packet); a real server reads it, then refuses.
    socket.once('data', () => socket.end(errorResponse(...MESSAGES[answer])));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
