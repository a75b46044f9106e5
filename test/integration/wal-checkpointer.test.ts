import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { checkpoints } from '../../src/db/wal-checkpointer';
import { sendPhotos, twoUsers } from '../support/push-fixtures';
import { startTestApp, TEST_DATABASE_URL, type TestApp } from '../support/test-app';

(TEST_DATABASE_URL ? describe.skip : describe)('SQLite checkpoints off the event loop', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  /** Messages in the database file alone: a copy of it without its WAL holds only what was checkpointed. */
  function messagesInFile(): number {
    const copy = path.join(t.dir, 'copy.sqlite');
    fs.copyFileSync(t.env.SQLITE_FILE, copy);
    const raw = new Database(copy, { readonly: true });
    try {
      return (raw.prepare('select count(*) as n from messages').get() as { n: number }).n;
    } catch {
      return 0; // the file has no messages table yet
    } finally {
      raw.close();
      fs.rmSync(copy);
    }
  }

  it("leaves the WAL's checkpoints to a helper thread, the server's connection keeping only a backstop", async () => {
    const lane = t.services.database.lane.get()!;
    expect(lane.get('pragma wal_autocheckpoint')).to.deep.equal({ wal_autocheckpoint: 10_000 });
    const { alice, bob } = await twoUsers(t);
    await sendPhotos(t, alice, bob, 5);
    // Far below the backstop's 10,000 pages: only the helper copies these into the file.
    await new Promise<void>((resolve) => {
      const seen = (file: string) => {
        if (file !== t.env.SQLITE_FILE || messagesInFile() < 5) return;
        checkpoints.off('checkpoint', seen);
        resolve();
      };
      checkpoints.on('checkpoint', seen);
    });
    expect(messagesInFile()).to.equal(5);
  });
});
