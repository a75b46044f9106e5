import type { PendingMessage } from '../db/messages-repository';
import type { User } from '../db/users-repository';
import type { MessagePayload } from '../push/push-provider';
import { messagePayload } from '../messages/payload';

/** Exactly the fields that leave the server for each kind of record. */

/**
 * The caller's own profile. Never the phone number, not even to its owner: the app has it already, and a
 * leaked ukey must not turn into the number it belongs to.
 */
export function presentOwnProfile(user: User) {
  return {
    uid: user.uid,
    cid: user.cid,
    region_num: user.regionNum,
    phone_hash: user.phoneHash,
    nickname: user.nickname,
    reg_time: user.regTime,
  };
}

/** Another user as anyone sees them: never the phone number or its hash. */
export function presentPublicUser(user: User) {
  return { uid: user.uid, nickname: user.nickname, region_num: user.regionNum };
}

export function presentPending(message: PendingMessage): MessagePayload {
  return messagePayload(message, { regionNum: message.senderRegion, phoneHash: message.senderPhoneHash });
}
