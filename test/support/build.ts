import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
let built = false;

/** Compiles the project into dist/ as `npm run build` does, once per test run. */
export function buildOnce(): void {
  if (built) return;
  // As npm run build: what an earlier build left (a module since moved) must not shadow the new code.
  fs.rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`npm run build failed:\n${res.stdout}${res.stderr}`);
  built = true;
}
