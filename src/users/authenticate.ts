import { errors } from '../errors';
import type { User, UsersRepository } from '../db/users-repository';
import { hashUkey, ukeyMatches } from './ukey';

export interface Credentials {
  phoneHash: string;
  ukey: string;
}

// Compared against when the phone is unknown, so an unknown phone and a wrong key cost the same.
const DUMMY_HASH = hashUkey('pushpic-no-such-user');
const PHONE_HASH = /^[0-9a-f]{64}$/;

export function authenticate(users: UsersRepository) {
  return async (credentials: Credentials | null): Promise<User> => {
    if (!credentials || !PHONE_HASH.test(credentials.phoneHash) || credentials.ukey.length > 256) {
      throw errors.unauthorized();
    }
    const user = await users.findByPhoneHash(credentials.phoneHash);
    const ok = ukeyMatches(credentials.ukey, user?.ukeyHash ?? DUMMY_HASH);
    if (!user || !ok) throw errors.unauthorized();
    const { ukeyHash, ...publicUser } = user;
    return publicUser;
  };
}
