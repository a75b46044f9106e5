import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

/** A pino destination that keeps every line, so tests can wait for an event instead of sleeping. */
export class LogSink extends Writable {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
      this.raw.push(text);
      const line = JSON.parse(text) as LogLine;
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    }
    done();
  }

  /** Resolves with the first line (already logged or to come) that matches. */
  waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}
