import type { Db } from './knex';

export interface User {
  uid: number;
  cid: string;
  regionNum: string;
  phoneNum: string;
  phoneHash: string;
  nickname: string;
  regTime: number;
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
  };
}

export type UsersRepository = ReturnType<typeof usersRepository>;

export function usersRepository(db: Db) {
  const users = () => db<UserRow>('users');
  return {
    async insert(user: Omit<UserWithSecret, 'uid'>): Promise<number> {
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

    async findByPhoneHash(hash: string): Promise<UserWithSecret | undefined> {
      const row = await users().where({ phone_hash: hash }).first();
      return row && toUser(row);
    },

    async findById(uid: number): Promise<UserWithSecret | undefined> {
      const row = await users().where({ id: uid }).first();
      return row && toUser(row);
    },

    async updateCid(uid: number, cid: string): Promise<void> {
      await users().where({ id: uid }).update({ cid });
    },
  };
}
