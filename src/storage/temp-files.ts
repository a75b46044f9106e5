import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'host';
const NAME = /^([A-Za-z0-9-]+)\.(\d+)\.[0-9a-f]+\.part$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Uploads stream into <uploadDir>/.tmp first, so a half-received photo is never seen as a stored one.
 * Each name carries its host and process id: the sweeper removes at once the files of a process on this
 * host that is gone (an upload cut off by a crash), and any other file once it has been idle too long.
 */
export class TempFiles {
  readonly dir: string;

  constructor(uploadDir: string) {
    this.dir = path.join(uploadDir, '.tmp');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** A random part drawn once per process, then a counter: unique on this host, even across pid reuse. */
  private readonly prefix = `${HOST}.${process.pid}.${crypto.randomBytes(8).toString('hex')}`;
  private made = 0;

  newPath(): string {
    this.made += 1;
    return path.join(this.dir, `${this.prefix}${this.made.toString(16).padStart(8, '0')}.part`);
  }

  /** Removes abandoned temporary files; returns how many. */
  async sweep(idleMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await fs.promises.readdir(this.dir).catch(() => [] as string[])) {
      const file = path.join(this.dir, name);
      const match = NAME.exec(name);
      const ownerGone = match !== null && match[1] === HOST && !processAlive(Number(match[2]));
      const stat = await fs.promises.stat(file).catch(() => null);
      if (!stat) continue;
      if (ownerGone || now - stat.mtimeMs > idleMs) {
        await fs.promises.rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }
}
