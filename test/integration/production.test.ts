import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { buildOnce } from '../support/build';
import { COMPILED, spawnServer, type ServerProcess } from '../support/server-process';
import { freshDatabase, TEST_DATABASE_URL } from '../support/test-app';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(port, '127.0.0.1');
    probe.once('connect', () => (probe.destroy(), resolve(false)));
    probe.once('error', () => resolve(true));
  });
}

describe('the production command and npm start', function () {
  this.timeout(120_000);
  let dir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void>;
  let server: ServerProcess | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-prod-'));
    const database = await freshDatabase(dir);
    dropDatabase = database.drop;
    env = { ...database.env, UPLOAD_DIR: path.join(dir, 'uploads') };
  });
  afterEach(async () => {
    // A server left behind by a failing test (an orphan of npm) must not outlive it.
    if (server && alive(server.pid)) process.kill(server.pid, 'SIGKILL');
    server = undefined;
    await dropDatabase();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('node dist/src/main.js starts, passes the image health check, and stops on SIGTERM', async () => {
    buildOnce();
    server = await spawnServer(env, COMPILED);
    expect(server.pid).to.equal(server.proc.pid); // node itself, no shell or npm in between
    // The Dockerfile's HEALTHCHECK, with the server's settings (HOST 127.0.0.1 here, and its port).
    const healthcheck = () =>
      spawnSync(process.execPath, ['dist/scripts/healthcheck.js'], {
        cwd: path.resolve(__dirname, '../..'),
        env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(server!.port) },
        encoding: 'utf8',
      });
    const up = healthcheck();
    expect(up.status, up.stderr).to.equal(0);
    server.proc.kill('SIGTERM');
    expect(await server.exited).to.equal(0);
    expect(server.logs.some((l) => l.event === 'server.stopped')).to.equal(true);
    expect(healthcheck().status, 'once stopped').to.equal(1);
  });

  it('npm start: SIGTERM to npm (as docker stop or a supervisor sends it) stops the server', async function () {
    // npm's signal forwarding does not depend on the database: run once, in the SQLite pass.
    if (TEST_DATABASE_URL) this.skip();
    // What a build of an older version left in dist/ (src/config.js, now src/config/index.js, which node
    // would load first) must not be what runs: npm start builds afresh.
    const stale = path.resolve(__dirname, '../../dist/src/config.js');
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    fs.writeFileSync(stale, "throw new Error('a stale build ran');\n");
    server = await spawnServer({ ...env, HOME: process.env.HOME ?? os.tmpdir() }, ['npm', 'start']);
    expect(server.pid).not.to.equal(server.proc.pid);
    server.proc.kill('SIGTERM');
    expect(await server.exited, 'npm').to.equal(0);
    // npm exits once its child has: the server must be that child, not an orphan of a shell.
    expect(alive(server.pid), 'the server process').to.equal(false);
    expect(await refused(server.port), 'its port is free').to.equal(true);
    expect(server.logs.some((l) => l.event === 'server.stopped')).to.equal(true);
  });
});
