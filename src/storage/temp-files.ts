import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Uploads stream into <uploadDir>/.tmp first, so a half-received photo is never seen as a stored one. */
export class TempFiles {
  readonly dir: string;

  constructor(uploadDir: string) {
    this.dir = path.join(uploadDir, '.tmp');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  newPath(): string {
    return path.join(this.dir, `${crypto.randomBytes(12).toString('hex')}.part`);
  }

  async remove(file: string): Promise<void> {
    await fs.promises.rm(file, { force: true });
  }
}
