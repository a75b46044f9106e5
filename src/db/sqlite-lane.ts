import type BetterSqlite3 from 'better-sqlite3';

/**
 * The hot statements' lane on SQLite: prepared once and run synchronously on knex's own (single)
 * connection, skipping knex's query builder, its pool and its prepare-per-query, which cost more than
 * the lookups themselves. On PostgreSQL there is no lane; the repositories use knex, whose cost is small
 * beside a network round trip.
 *
 * The one rule that makes sharing the connection safe: on SQLite, no knex transaction stays open across an
 * await while requests are served (a statement run here would land inside it). Every transaction that
 * runs while serving takes the synchronous `transaction` below on SQLite.
 */
export class SqliteLane {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly conn: BetterSqlite3.Database) {}

  get open(): boolean {
    return this.conn.open;
  }

  private prepared(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.conn.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.prepared(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: unknown[]): T[] {
    return this.prepared(sql).all(...params) as T[];
  }

  /** Runs a write; answers how many rows it changed. */
  run(sql: string, ...params: unknown[]): number {
    return this.prepared(sql).run(...params).changes;
  }

  /**
   * Runs fn in one transaction (BEGIN IMMEDIATE): all of it commits, or none of it when fn throws. Prepared
   * BEGIN and COMMIT rather than better-sqlite3's `transaction()`, which builds a wrapper function per call
   * (about 5 µs of a send's insert). Not nestable: no lane transaction runs another.
   */
  transaction<T>(fn: () => T): T {
    if (this.conn.inTransaction) throw new Error('the SQLite lane does not nest transactions');
    this.prepared('BEGIN IMMEDIATE').run();
    try {
      const result = fn();
      this.prepared('COMMIT').run();
      return result;
    } catch (err) {
      // A failed statement may already have rolled it back (SQLite does on some errors). A ROLLBACK that
      // fails too must not hide the first error.
      try {
        if (this.conn.inTransaction) this.prepared('ROLLBACK').run();
      } catch {
        // the first error says what happened
      }
      throw err;
    }
  }
}

/** Where a database keeps its lane, once knex's pool has made the SQLite connection it runs on. */
export class LaneHolder {
  private lane: SqliteLane | null = null;

  /** Puts the lane on the connection knex's pool made (called from the pool's afterCreate). */
  hold(conn: BetterSqlite3.Database): void {
    this.lane = new SqliteLane(conn);
  }

  /**
   * The lane: null on PostgreSQL, and on SQLite until knex has opened its connection (the first query,
   * in practice the migrations, does) or once it is closed.
   */
  get(): SqliteLane | null {
    return this.lane?.open ? this.lane : null;
  }
}
