import { errors } from '../errors';
import { isUniqueViolation } from '../db/knex';
import type { UsersRepository } from '../db/users-repository';
import { normalizePhone, phoneHash } from './phone';
import { generateUkey, hashUkey } from './ukey';

export interface RegisterInput {
  cid: string;
  regionNum: string;
  phoneNum: string;
  nickname: string;
}

export interface Registered {
  uid: number;
  ukey: string;
}

export function registerUser(users: UsersRepository, now: () => number) {
  return async (input: RegisterInput): Promise<Registered> => {
    const phone = normalizePhone(input.regionNum, input.phoneNum);
    const hash = phoneHash(phone.e164);
    // Taking over a registered number needs SMS verification, which pushpic does not offer yet.
    if (await users.findByPhoneHash(hash)) throw errors.phoneAlreadyRegistered();
    const ukey = generateUkey();
    try {
      const uid = await users.insert({
        cid: input.cid,
        ukeyHash: hashUkey(ukey),
        regionNum: phone.regionNum,
        phoneNum: phone.e164,
        phoneHash: hash,
        nickname: input.nickname,
        regTime: now(),
      });
      return { uid, ukey };
    } catch (err) {
      if (isUniqueViolation(err)) throw errors.phoneAlreadyRegistered(); // lost a race with the same number
      throw err;
    }
  };
}
