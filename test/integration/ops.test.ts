import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { buildOnce } from '../support/build';
import { GetuiStandin } from '../support/getui-standin';
import { jobOf, sendPhotos, twoUsers } from '../support/push-fixtures';
import { startTestApp } from '../support/test-app';

const root = path.resolve(__dirname, '../..');

/** Runs an entry point of the project as ops would, with only the given settings. */
function spawnEntry(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
}

/** A TypeScript entry point, from source. */
const run = (entry: string, env: Record<string, string>) =>
  spawnEntry(['-r', 'ts-node/register/transpile-only', entry], env);

/** The outbox report as ops run it, from the compiled code (dist/, as after `npm run build`). */
const outbox = (env: Record<string, string>, ...args: string[]) =>
  spawnEntry(['dist/scripts/outbox.js', ...args], env);

describe('ops: start-up checks and npm run outbox', () => {
  before(function () {
    this.timeout(120_000);
    buildOnce();
  });

  it('refuses to start with one message naming every missing setting of the push provider', () => {
    const res = run('src/main.ts', {
      PUSH_PROVIDER: 'getui',
      GETUI_APP_KEY: 'k',
      PORT: '0',
      LOG_LEVEL: 'silent',
    });
    expect(res.status).to.equal(78);
    expect(res.stderr).to.include('PUSH_PROVIDER=getui needs GETUI_APP_ID, GETUI_MASTER_SECRET');
    expect(res.stderr).not.to.include('GETUI_APP_KEY');
  });

  it('refuses to start on a service account file it cannot use', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-ops-'));
    try {
      const file = path.join(dir, 'sa.json');
      fs.writeFileSync(file, JSON.stringify({ type: 'service_account', private_key: 'not a key' }));
      const res = run('src/main.ts', {
        PUSH_PROVIDER: 'fcm',
        FCM_SERVICE_ACCOUNT_FILE: file,
        SQLITE_FILE: path.join(dir, 'db.sqlite'),
        PORT: '0',
        LOG_LEVEL: 'silent',
      });
      expect(res.status).to.equal(78);
      expect(res.stderr)
        .to.include('client_email is missing')
        .and.include('private_key is missing')
        .and.include('FCM_PROJECT_ID');
      expect(fs.existsSync(path.join(dir, 'db.sqlite')), 'stopped before touching the database').to.equal(
        false,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start in one line when its port is taken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-ops-'));
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const res = run('src/main.ts', {
        HOST: '127.0.0.1',
        PORT: String(port),
        SQLITE_FILE: path.join(dir, 'db.sqlite'),
        UPLOAD_DIR: path.join(dir, 'uploads'),
        LOG_LEVEL: 'silent',
      });
      expect(res.status).to.equal(78);
      expect(res.stderr).to.include(`PORT: 127.0.0.1:${port} is already in use`);
      expect(res.stderr).not.to.include('    at '); // no stack trace
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints jobs by state, the oldest due job and the last errors', async () => {
    const g = await new GetuiStandin().start();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-ops-'));
    const t = await startTestApp(g.env(), { dir });
    try {
      const { alice, bob } = await twoUsers(t);
      await sendPhotos(t, alice, bob, 2);
      await t.drainPushes();
      g.failNext(1, { status: 503 });
      const [failing] = await sendPhotos(t, alice, bob, 1);
      await t.drainPushes();
      const [due] = await sendPhotos(t, alice, bob, 1);
      const failingJob = await jobOf(t, failing);
      const dueJob = await jobOf(t, due);

      const res = outbox(t.env); // the app's own database, SQLite or PostgreSQL
      expect(res.status, res.stderr).to.equal(0);
      expect(res.stdout).to.match(/pending\s+2\n/);
      expect(res.stdout).to.match(/sent\s+2\n/);
      expect(res.stdout).to.include('due now: 1');
      expect(res.stdout).to.include(`oldest due: job ${dueJob.jobId} (message ${due}, pending, 0 attempts)`);
      expect(res.stdout).to.include(`next retry: job ${failingJob.jobId}`);
      expect(res.stdout).to.match(new RegExp(`job ${failingJob.jobId} .*: getui no code \\(HTTP 503\\)`));
    } finally {
      await t.close();
      await g.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help prints what the report shows, its option and the settings it reads, and no report', async () => {
    const t = await startTestApp();
    try {
      const res = outbox(t.env, '--help');
      expect(res.status, res.stderr).to.equal(0);
      for (const word of ['--json', 'DATABASE_URL', 'DATABASE_SCHEMA', 'SQLITE_FILE', 'jobs by state'])
        expect(res.stdout).to.include(word);
      expect(res.stdout).not.to.include('push outbox of');
      const wrong = outbox(t.env, '--jsno');
      expect(wrong.status).to.equal(64);
      expect(wrong.stderr).to.include('--jsno');
    } finally {
      await t.close();
    }
  });
});
