import { expect } from 'chai';
import { makeMessageKey, MESSAGE_KEY } from '../../src/messages/message-key';
import { generateUkey, hashUkey, ukeyMatches } from '../../src/users/ukey';

describe('ukey', () => {
  it('is 256 random bits of URL-safe text', () => {
    const keys = new Set(Array.from({ length: 200 }, generateUkey));
    expect(keys.size).to.equal(200);
    for (const k of keys) expect(k).to.match(/^[A-Za-z0-9_-]{43}$/);
  });

  it('matches only its own hash', () => {
    const k = generateUkey();
    expect(ukeyMatches(k, hashUkey(k))).to.equal(true);
    expect(ukeyMatches(`${k}x`, hashUkey(k))).to.equal(false);
    expect(ukeyMatches(generateUkey(), hashUkey(k))).to.equal(false);
    expect(ukeyMatches(k, 'not-a-hash')).to.equal(false);
  });
});

describe('message_key', () => {
  it('is 64 hex characters, different for the same sender, receiver and time', () => {
    const a = makeMessageKey(1, 2, 1700000000000);
    const b = makeMessageKey(1, 2, 1700000000000);
    expect(a).to.match(MESSAGE_KEY);
    expect(b).to.match(MESSAGE_KEY);
    expect(a).not.to.equal(b);
  });

  it('stays unique across refills of its random pool', () => {
    // 256 nonces per refill: 600 keys cross two refills.
    const keys = new Set(Array.from({ length: 600 }, () => makeMessageKey(1, 2, 1700000000000)));
    expect(keys.size).to.equal(600);
  });
});
