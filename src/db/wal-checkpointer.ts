import type BetterSqlite3 from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';

/** How often the helper thread checkpoints the WAL. */
const INTERVAL_MS = 100;
/**
 * The server's own connection checkpoints only once the WAL holds this many pages (about 40 MB): a backstop
 * should the helper be gone, and what lets the WAL start over under a steady stream of writes (a checkpoint
 * from another thread never catches up with the frames written meanwhile).
 */
const BACKSTOP_PAGES = 10_000;
/** SQLite's own default, restored if the helper cannot run. */
const DEFAULT_PAGES = 1000;

// Plain JavaScript run in the helper thread (eval), so that it runs the same under ts-node and compiled.
const HELPER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0 });
let copied = 0;
const timer = setInterval(() => {
  try {
    const [{ checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)');
    if (checkpointed > 0 && checkpointed !== copied) parentPort.postMessage({ checkpointed });
    copied = checkpointed;
  } catch {
    // SQLITE_BUSY: the server's connection is checkpointing itself; the next round goes on.
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  parentPort.removeAllListeners();
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** Emits 'checkpoint' (file, pages copied so far from the current WAL) when the helper has copied pages. */
export const checkpoints = new EventEmitter();

/**
 * Moves the WAL checkpoints of a SQLite database off the event loop, onto a helper thread with its own
 * connection. A checkpoint copies the WAL's pages into the database file and, with synchronous=NORMAL,
 * waits for two fsyncs: run by the connection that commits (SQLite's default, every 1,000 pages, about
 * every 70 sends), that wait stopped the event loop for about 30 µs per send on average and for
 * milliseconds at a time. The helper checkpoints every INTERVAL_MS; the server's connection keeps a backstop.
 * Durability is unchanged: the same checkpoints, the same fsyncs, on another thread.
 *
 * Stops with the connection (its close()), so that it follows knex's pool wherever a Db is destroyed.
 */
export function checkpointOffThread(conn: BetterSqlite3.Database): void {
  if (conn.memory || conn.readonly) return;
  let worker: Worker;
  try {
    worker = new Worker(HELPER, {
      eval: true,
      workerData: { file: conn.name, driver: require.resolve('better-sqlite3'), intervalMs: INTERVAL_MS },
    });
  } catch {
    return; // no helper: SQLite checkpoints on commit, as by default
  }
  conn.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  worker.unref();
  worker.on('message', (m: { checkpointed: number }) =>
    checkpoints.emit('checkpoint', conn.name, m.checkpointed),
  );
  // The helper could not open the database or died: back to checkpoints on commit.
  worker.once('error', () => {
    if (conn.open) conn.pragma(`wal_autocheckpoint = ${DEFAULT_PAGES}`);
  });
  const close = conn.close.bind(conn);
  conn.close = () => {
    worker.postMessage('stop');
    return close();
  };
}
