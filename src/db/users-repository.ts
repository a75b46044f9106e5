import type { Knex } from 'knex';
import type { Database } from './knex';

export interface User {
  uid: number;
  cid: string;
  regionNum: string;
  phoneNum: string;
  phoneHash: string;
  nickname: string;
  regTime: number;
  /** When the push provider reported the cid dead; null while pushes to it are worth trying. */
  cidInvalidAt: number | null;
}

export interface UserWithSecret extends User {
  ukeyHash: string;
}

interface UserRow {
  id: number;
  cid: string;
  ukey_hash: string;
  region_num: string;
  phone_num: string;
  phone_hash: string;
  nickname: string;
  reg_time: number | string;
  cid_invalid_at: number | string | null;
}

function toUser(row: UserRow): UserWithSecret {
  return {
    uid: row.id,
    cid: row.cid,
    ukeyHash: row.ukey_hash,
    regionNum: row.region_num,
    phoneNum: row.phone_num,
    phoneHash: row.phone_hash,
    nickname: row.nickname,
    regTime: Number(row.reg_time),
    cidInvalidAt: row.cid_invalid_at === null ? null : Number(row.cid_invalid_at),
  };
}

export type UsersRepository = ReturnType<typeof usersRepository>;

export function usersRepository({ knex: db, lane: lanes }: Database) {
  const users = (trx: Knex | Knex.Transaction = db) => trx<UserRow>('users');
  return {
    async insert(user: Omit<UserWithSecret, 'uid' | 'cidInvalidAt'>): Promise<number> {
      const [row] = await users()
        .insert({
          cid: user.cid,
          ukey_hash: user.ukeyHash,
          region_num: user.regionNum,
          phone_num: user.phoneNum,
          phone_hash: user.phoneHash,
          nickname: user.nickname,
          reg_time: user.regTime,
        })
        .returning('id');
      return typeof row === 'object' ? row.id : Number(row);
    },

    // Every authenticated request makes one of these two lookups.
    async findByPhoneHash(hash: string): Promise<UserWithSecret | undefined> {
      const lane = lanes.get();
      const row = lane
        ? lane.get<UserRow>('select * from users where phone_hash = ?', hash)
        : await users().where({ phone_hash: hash }).first();
      return row && toUser(row);
    },

    async findById(uid: number): Promise<UserWithSecret | undefined> {
      const lane = lanes.get();
      const row = lane
        ? lane.get<UserRow>('select * from users where id = ?', uid)
        : await users().where({ id: uid }).first();
      return row && toUser(row);
    },

    /** A new push client id from the app; pushes to it are tried again. */
    async updateCid(uid: number, cid: string): Promise<void> {
      await users().where({ id: uid }).update({ cid, cid_invalid_at: null });
    },
  };
}
