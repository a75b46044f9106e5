import { expect } from 'chai';
import { notifyIdOf, pushRequestId } from '../../src/outbox/push-request';

describe('push request ids', () => {
  it('builds request_ids of 10 to 32 characters, stable for a job', () => {
    expect(pushRequestId(1, 1)).to.equal('pushpic-1-1');
    expect(pushRequestId(2147483647, 2147483647)).to.have.length.within(10, 32);
    const huge = pushRequestId(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    expect(huge).to.have.length(32);
    expect(huge).to.equal(pushRequestId(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
  });

  it('gives each message one notify_id within GeTui’s range, its id where it fits', () => {
    expect(notifyIdOf(42)).to.equal(42);
    expect(notifyIdOf(2_147_483_647)).to.equal(2_147_483_647);
    // Past GeTui's range, a hash of the id: in range, and not the id cut to 31 bits (which would make
    // message 2^31 replace the notification of message 0).
    const past = [2_147_483_648, 2 ** 40, Number.MAX_SAFE_INTEGER];
    for (const id of past) {
      expect(Number.isInteger(notifyIdOf(id))).to.equal(true);
      expect(notifyIdOf(id)).to.be.within(0, 2_147_483_647);
      expect(notifyIdOf(id)).not.to.equal(id % 2 ** 31);
    }
    expect(new Set(past.map(notifyIdOf)).size).to.equal(past.length);
  });
});
