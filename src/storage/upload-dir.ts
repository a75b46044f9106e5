import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';

/**
 * Makes UPLOAD_DIR and its .tmp folder (every upload streams there first, whatever the blob store) and
 * writes and removes a file in it, so a folder the server cannot use stops the start instead of the first
 * send. Throws a ConfigError naming UPLOAD_DIR and the cause.
 */
export function checkUploadDir(dir: string): void {
  const fail = (why: string) => new ConfigError([`UPLOAD_DIR: ${why}`]);
  const probe = path.join(dir, '.tmp', `.write-check-${process.pid}`);
  try {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) throw fail(`${dir} is not a folder`);
    fs.mkdirSync(path.dirname(probe), { recursive: true });
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const whose = process.getuid ? ` by uid ${process.getuid()}` : '';
    throw fail(
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `${dir} is not writable${whose} (${(err as Error).message})`
        : `cannot use ${dir} (${(err as Error).message})`,
    );
  }
}
