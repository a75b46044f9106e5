import crypto from 'node:crypto';
import type supertest from 'supertest';
import { expect } from 'chai';

let next = 0;

/** A valid, unused Chinese mobile number in national format, e.g. "13800000001". */
export function nextPhone(): string {
  next += 1;
  return `138${String(process.pid % 1000).padStart(3, '0')}${String(next).padStart(5, '0')}`;
}

export interface TestUser {
  uid: number;
  ukey: string;
  phoneHash: string;
  e164: string;
  cid: string;
  nickname: string;
  headers: Record<string, string>;
}

export async function buildUser(
  api: supertest.Agent,
  overrides: Partial<{ cid: string; nickname: string; phone: string }> = {},
): Promise<TestUser> {
  const phone = overrides.phone ?? nextPhone();
  const cid = overrides.cid ?? `cid-${crypto.randomBytes(6).toString('hex')}`;
  const nickname = overrides.nickname ?? `User ${phone.slice(-4)}`;
  const res = await api.post('/v1/register').send({ cid, region_num: '86', phone_num: phone, nickname });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const e164 = `+86${phone}`;
  const phoneHash = crypto.createHash('sha256').update(e164).digest('hex');
  return {
    uid: res.body.uid,
    ukey: res.body.ukey,
    phoneHash,
    e164,
    cid,
    nickname,
    headers: { 'X-Phone-Hash': phoneHash, 'X-Ukey': res.body.ukey },
  };
}

/** Sends a photo from one user to another through the API. */
export function sendPhoto(
  api: supertest.Agent,
  from: TestUser,
  to: { uid: number },
  file: Buffer,
  extra: Record<string, string> = {},
  filename = 'photo.jpg',
) {
  const req = api.post('/v1/messages').set(from.headers).field('receiver_uid', String(to.uid));
  for (const [k, v] of Object.entries(extra)) req.field(k, v);
  return req.attach('img_file', file, filename);
}
