import type { Knex } from 'knex';
import type { Database } from './knex';
import { PUSH_JOB_STATES, type JobLease, type PushJobState } from './push-job-row';
import { toMessage, type Message, type MessageRow } from './messages-repository';

export { PUSH_JOB_STATES, type JobLease, type PushJobState };
const CLAIMABLE: PushJobState[] = ['pending', 'sending'];

/** A claimed job with what its push needs, read at claim time (so a cid changed since the send is used). */
export interface ClaimedJob {
  jobId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** The claim that holds the job: recording an outcome needs it. */
  leaseOwner: string;
  message: Message;
  sender: { regionNum: string; phoneHash: string; nickname: string };
  receiver: { uid: number; cid: string; cidInvalidAt: number | null };
}

/** How an attempt ended, to record. */
export type JobResult =
  | { jobId: number; state: 'sent'; provider: string; taskId: string | null }
  | {
      jobId: number;
      state: 'pending';
      provider: string;
      dueAt: number;
      error: string;
      /** Put back because the provider is down: released as soon as it answers again. */
      parked?: boolean;
      /** Held back without a provider call: the claim's count of the attempt is taken back. */
      unattempted?: boolean;
    }
  | { jobId: number; state: 'failed' | 'skipped'; provider: string | null; error: string };

export interface PushJob {
  jobId: number;
  messageId: number;
  state: PushJobState;
  dueAt: number;
  attempts: number;
  provider: string | null;
  taskId: string | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  /** When it was parked on its provider's outage; null when not parked. */
  parkedAt: number | null;
}

interface PushJobRow {
  id: number;
  message_id: number;
  state: PushJobState;
  due_at: number | string;
  attempts: number;
  lease_owner: string | null;
  provider: string | null;
  task_id: string | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
  finished_at: number | string | null;
  parked_at: number | string | null;
}

function toJob(row: PushJobRow): PushJob {
  return {
    jobId: row.id,
    messageId: row.message_id,
    state: row.state,
    dueAt: Number(row.due_at),
    attempts: row.attempts,
    provider: row.provider,
    taskId: row.task_id,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    parkedAt: row.parked_at == null ? null : Number(row.parked_at),
  };
}

export interface OutboxStats {
  byState: Record<PushJobState, number>;
  /** Jobs that could be claimed right now. */
  due: number;
  /** Pending jobs parked on their provider's outage, by provider. */
  parked: Record<string, number>;
  oldestDue: PushJob | null;
  nextDue: PushJob | null;
  lastErrors: PushJob[];
}

export type PushJobsRepository = ReturnType<typeof pushJobsRepository>;

/** A cid the provider called dead while pushing a job (users.cid_invalid_at records it). */
export interface DeadCid {
  jobId: number;
  uid: number;
  cid: string;
}

type ClaimRow = MessageRow & {
  job_id: number;
  job_attempts: number;
  sender_region: string;
  sender_phone_hash: string;
  sender_nickname: string;
  receiver_cid: string;
  receiver_cid_invalid_at: number | string | null;
};

const CLAIM_COLUMNS = [
  'j.id as job_id',
  'j.attempts as job_attempts',
  's.region_num as sender_region',
  's.phone_hash as sender_phone_hash',
  's.nickname as sender_nickname',
  'r.cid as receiver_cid',
  'r.cid_invalid_at as receiver_cid_invalid_at',
];

function toClaimed(r: ClaimRow, owner: string): ClaimedJob {
  return {
    jobId: Number(r.job_id),
    attempt: Number(r.job_attempts),
    leaseOwner: owner,
    message: toMessage(r),
    sender: { regionNum: r.sender_region, phoneHash: r.sender_phone_hash, nickname: r.sender_nickname },
    receiver: {
      uid: r.receiver_uid,
      cid: r.receiver_cid,
      cidInvalidAt: r.receiver_cid_invalid_at == null ? null : Number(r.receiver_cid_invalid_at),
    },
  };
}

// The SQLite lane's statements of claim and record (a JSON array binds a list of ids).
const LANE_DUE = `select id from push_jobs where state in ('pending', 'sending') and due_at <= ?
  order by due_at, id limit ?`;
const LANE_PARKED = `select id from push_jobs where state = 'pending' and parked_at is not null and provider = ?
  order by due_at, id limit ?`;
const LANE_LEASE = `update push_jobs set state = 'sending', due_at = @until, lease_owner = @owner,
  attempts = attempts + 1, updated_at = @now where id in (select value from json_each(@ids))`;
const LANE_JOINED = `select m.*, ${CLAIM_COLUMNS.join(', ')} from push_jobs j
  join messages m on m.id = j.message_id join users s on s.id = m.sender_uid join users r on r.id = m.receiver_uid`;
const LANE_CLAIMED = `${LANE_JOINED} where j.id in (select value from json_each(?)) order by j.id`;
const LANE_LEASED = `${LANE_JOINED} where j.message_id in (select value from json_each(?))
  and j.state = 'sending' and j.lease_owner = ? and j.due_at >= ? order by j.id`;
const LANE_RECORD = `update push_jobs set state = @state, due_at = @due_at, lease_owner = null, provider = @provider,
  task_id = @task_id, last_error = @last_error, updated_at = @updated_at, finished_at = @finished_at,
  parked_at = @parked_at, attempts = attempts - @unattempted
  where id = @id and state = 'sending' and lease_owner = @owner`;
const LANE_CID_INVALID =
  'update users set cid_invalid_at = ? where id = ? and cid = ? and cid_invalid_at is null';

/** Jobs with their message, sender and receiver, in job order (claim and leased add the where). */
const joined = (trx: Knex | Knex.Transaction) =>
  trx('push_jobs as j')
    .join('messages as m', 'm.id', 'j.message_id')
    .join('users as s', 's.id', 'm.sender_uid')
    .join('users as r', 'r.id', 'm.receiver_uid')
    .orderBy('j.id')
    .select<ClaimRow[]>('m.*', ...CLAIM_COLUMNS);

export function pushJobsRepository({ knex: db, lane: lanes }: Database) {
  const jobs = (trx: Knex | Knex.Transaction = db) => trx<PushJobRow>('push_jobs');
  // SKIP LOCKED lets several processes claim side by side on PostgreSQL; SQLite has one writer anyway.
  const canSkipLocked = db.client.config.client === 'pg';
  const clip = (text: string) => (text.length > 500 ? `${text.slice(0, 499)}…` : text);

  /**
   * Leases up to `limit` jobs for `owner`: the due ones (pending ones due, and sending ones whose lease ran
   * out), or with `parkedOf` the jobs parked on that provider's outage, due or not (the probe's pick).
   */
  async function lease(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
    parkedOf?: string,
  ): Promise<ClaimedJob[]> {
    const held = { owner, until: now + leaseMs, now };
    const lane = lanes.get();
    if (lane) {
      const rows = lane.transaction(() => {
        const picked =
          parkedOf === undefined
            ? lane.all<{ id: number }>(LANE_DUE, now, limit)
            : lane.all<{ id: number }>(LANE_PARKED, parkedOf, limit);
        const ids = JSON.stringify(picked.map((r) => r.id));
        if (ids === '[]') return [];
        lane.run(LANE_LEASE, { ...held, ids });
        return lane.all<ClaimRow>(LANE_CLAIMED, ids);
      });
      return rows.map((r) => toClaimed(r, owner));
    }
    const rows = await db.transaction(async (trx) => {
      let due = jobs(trx)
        .select('id')
        .orderBy([{ column: 'due_at' }, { column: 'id' }])
        .limit(limit);
      due =
        parkedOf === undefined
          ? due.whereIn('state', CLAIMABLE).andWhere('due_at', '<=', now)
          : due.where({ state: 'pending', provider: parkedOf }).whereNotNull('parked_at');
      if (canSkipLocked) due = due.forUpdate().skipLocked();
      const ids = (await due).map((r) => r.id);
      if (!ids.length) return [];
      await jobs(trx)
        .whereIn('id', ids)
        .update({
          state: 'sending',
          due_at: held.until,
          lease_owner: owner,
          attempts: trx.raw('attempts + 1'),
          updated_at: now,
        });
      return joined(trx).whereIn('j.id', ids);
    });
    return rows.map((r) => toClaimed(r, owner));
  }

  return {
    /** Claims up to `limit` due jobs (pending ones due, and sending ones whose lease ran out) for a lease. */
    claim(owner: string, now: number, leaseMs: number, limit: number): Promise<ClaimedJob[]> {
      return lease(owner, now, leaseMs, limit);
    },

    /**
     * One job to probe a provider that is down with: the first due job, else the parked job of that
     * provider due first (its own back-off may be far off: the probe does not wait for it).
     */
    async claimProbe(owner: string, now: number, leaseMs: number, provider: string): Promise<ClaimedJob[]> {
      const due = await lease(owner, now, leaseMs, 1);
      return due.length ? due : lease(owner, now, leaseMs, 1, provider);
    },

    /**
     * The provider answers again: every job parked on its outage is due now, whichever worker parked it.
     * Returns how many were released.
     */
    release(provider: string, now: number): Promise<number> {
      return jobs()
        .where({ state: 'pending', provider })
        .whereNotNull('parked_at')
        .update({ due_at: now, parked_at: null, updated_at: now });
    },

    /** The owners of leases still running at `now` (a claim's or a handed batch's), each once. */
    async leaseOwners(now: number): Promise<string[]> {
      const rows = await jobs()
        .distinct('lease_owner')
        .where('state', 'sending')
        .andWhere('due_at', '>', now)
        .whereNotNull('lease_owner');
      return rows.map((r) => r.lease_owner as string);
    },

    /**
     * Ends at `now` the leases of these owners (workers known to be dead), so the next claim takes their
     * jobs without waiting for the leases to run out. Returns how many jobs that frees.
     */
    endLeases(owners: string[], now: number): Promise<number> {
      if (!owners.length) return Promise.resolve(0);
      return jobs()
        .where('state', 'sending')
        .whereIn('lease_owner', owners)
        .andWhere('due_at', '>', now)
        .update({ due_at: now, updated_at: now });
    },

    /**
     * The jobs of these messages that were written leased to `owner` and are still held by it until at
     * least `heldUntil`, with what their pushes need (read now, as a claim reads them): the outbox's way to
     * take the jobs it was handed in memory, without the claim's write transaction. A job whose lease is
     * about to end is left out: once it has ended, a claim takes it, here or in another process, so it is
     * never pushed by two.
     */
    async leased(owner: string, messageIds: number[], heldUntil: number): Promise<ClaimedJob[]> {
      const lane = lanes.get();
      const rows = lane
        ? lane.all<ClaimRow>(LANE_LEASED, JSON.stringify(messageIds), owner, heldUntil)
        : await joined(db)
            .whereIn('j.message_id', messageIds)
            .andWhere({ 'j.state': 'sending', 'j.lease_owner': owner })
            .andWhere('j.due_at', '>=', heldUntil);
      return rows.map((r) => toClaimed(r, owner));
    },

    /**
     * Moves the end of a claim's lease while its pushes are still under way; returns how many jobs it holds.
     * With messageIds, only the jobs of those messages (the owner of handed jobs holds many batches' worth).
     */
    extendLease(owner: string, until: number, now: number, messageIds?: number[]): Promise<number> {
      const held = jobs().where({ state: 'sending', lease_owner: owner });
      if (messageIds) held.whereIn('message_id', messageIds);
      return held.update({ due_at: until, updated_at: now });
    },

    /**
     * Records the outcomes of one claim, and the cids the provider called dead, in one transaction. A job
     * whose lease another worker took over (it ran out) is left to that worker, and so is its dead cid;
     * its id is returned.
     */
    async record(owner: string, results: JobResult[], deadCids: DeadCid[], now: number): Promise<number[]> {
      const updates = results.map((r) => ({
        id: r.jobId,
        owner,
        state: r.state,
        due_at: r.state === 'pending' ? r.dueAt : now,
        provider: r.provider,
        task_id: r.state === 'sent' ? r.taskId : null,
        last_error: r.state === 'sent' ? null : clip(r.error),
        updated_at: now,
        finished_at: r.state === 'pending' ? null : now,
        parked_at: r.state === 'pending' && r.parked ? now : null,
        unattempted: r.state === 'pending' && r.unattempted ? 1 : 0,
      }));
      const lane = lanes.get();
      if (lane) {
        return lane.transaction(() => {
          const lost = updates.filter((u) => lane.run(LANE_RECORD, u) === 0).map((u) => u.id);
          for (const dead of deadCids) {
            if (!lost.includes(dead.jobId)) lane.run(LANE_CID_INVALID, now, dead.uid, dead.cid);
          }
          return lost;
        });
      }
      return db.transaction(async (trx) => {
        const lost: number[] = [];
        for (const { id, owner: leaseOwner, unattempted, ...u } of updates) {
          const changed = await jobs(trx)
            .where({ id, state: 'sending', lease_owner: leaseOwner })
            .update({ ...u, lease_owner: null, attempts: trx.raw('attempts - ?', [unattempted]) });
          if (!changed) lost.push(id);
        }
        for (const dead of deadCids) {
          if (lost.includes(dead.jobId)) continue;
          await trx('users')
            .where({ id: dead.uid, cid: dead.cid })
            .whereNull('cid_invalid_at')
            .update({ cid_invalid_at: now });
        }
        return lost;
      });
    },

    /** Deletes up to `limit` finished jobs (sent, failed, skipped) that finished before `before`. */
    async pruneFinished(before: number, limit: number): Promise<number> {
      const ids = await db('push_jobs')
        .whereIn('state', ['sent', 'failed', 'skipped'])
        .andWhere('due_at', '<', before) // lets the (state, due_at) index find them
        .andWhere('finished_at', '<', before)
        .limit(limit)
        .pluck('id');
      return ids.length ? db('push_jobs').whereIn('id', ids).del() : 0;
    },

    async findByMessageId(messageId: number): Promise<PushJob | undefined> {
      const row = await jobs().where({ message_id: messageId }).first();
      return row && toJob(row);
    },

    /** What ops need to see: jobs by state, the oldest due job, the next one waiting, the last errors. */
    async stats(now: number, errorLimit = 10): Promise<OutboxStats> {
      const counts = await jobs().select('state').count({ n: '*' }).groupBy('state');
      const byState = Object.fromEntries(PUSH_JOB_STATES.map((s) => [s, 0])) as Record<PushJobState, number>;
      for (const c of counts) byState[c.state as PushJobState] = Number(c.n);
      const dueQuery = () => jobs().whereIn('state', CLAIMABLE).andWhere('due_at', '<=', now);
      const [{ n: due }] = await dueQuery().count({ n: '*' });
      const oldestDue = await dueQuery().orderBy('due_at').first();
      const nextDue = await jobs()
        .where('state', 'pending')
        .andWhere('due_at', '>', now)
        .orderBy('due_at')
        .first();
      const lastErrors = await jobs()
        .whereNotNull('last_error')
        .orderBy('updated_at', 'desc')
        .limit(errorLimit);
      const parkedRows = await jobs()
        .select('provider')
        .count({ n: '*' })
        .where('state', 'pending')
        .whereNotNull('parked_at')
        .groupBy('provider');
      const parked = Object.fromEntries(parkedRows.map((r) => [String(r.provider), Number(r.n)]));
      return {
        byState,
        due: Number(due),
        parked,
        oldestDue: oldestDue ? toJob(oldestDue) : null,
        nextDue: nextDue ? toJob(nextDue) : null,
        lastErrors: lastErrors.map(toJob),
      };
    },
  };
}
