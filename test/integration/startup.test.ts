import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { buildOnce } from '../support/build';
import { COMPILED, runUntilExit, type Finished } from '../support/server-process';

/** Root ignores file modes: an unwritable folder is tested as the unprivileged user. */
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** A start refused the way the README promises: exit 78, one line naming the setting, no stack trace. */
function expectRefused(res: Finished, setting: string): string {
  expect(res.status, res.stderr).to.equal(78);
  const lines = res.stderr.trim().split('\n');
  expect(lines, res.stderr).to.have.length(1);
  expect(lines[0]).to.include(`${setting}:`);
  expect(res.stderr).not.to.match(/\n\s+at /);
  // Whatever was logged before is the JSON log, knex's messages included.
  for (const line of res.stdout.split('\n').filter(Boolean))
    expect(() => JSON.parse(line), line).not.to.throw();
  return lines[0];
}

/** The compiled server (faster to start than from source, and what production runs). */
const startCompiled = (env: Record<string, string>, user: { uid?: number; gid?: number } = {}) =>
  runUntilExit(env, { ...user, command: COMPILED });

describe('start-up that cannot happen: one line naming the setting, exit 78', function () {
  this.timeout(30_000);
  let dir: string;
  let env: Record<string, string>;

  before(function () {
    this.timeout(120_000);
    buildOnce();
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-startup-'));
    fs.chmodSync(dir, 0o755);
    env = {
      SQLITE_FILE: path.join(dir, 'data', 'pushpic.sqlite'),
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOG_LEVEL: 'debug',
    };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('HOST that is not an address', async () => {
    expect(expectRefused(await startCompiled({ ...env, HOST: '999.1.1.1' }), 'HOST')).to.include('999.1.1.1');
  });

  it('UPLOAD_DIR that is a file', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    expect(expectRefused(await startCompiled({ ...env, UPLOAD_DIR: file }), 'UPLOAD_DIR')).to.include(
      `${file} is not a folder`,
    );
  });

  it('UPLOAD_DIR that is not writable', async () => {
    const uploads = path.join(dir, 'read-only');
    fs.mkdirSync(uploads, { mode: 0o555 });
    fs.chmodSync(uploads, 0o555);
    const res = await startCompiled({ ...env, UPLOAD_DIR: uploads }, UNPRIVILEGED);
    expect(expectRefused(res, 'UPLOAD_DIR')).to.include(`${uploads} is not writable`);
  });
});
