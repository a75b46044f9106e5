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
    for (const id of [2_147_483_648, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expect(notifyIdOf(id)).to.be.within(0, 2_147_483_647);
      expect(notifyIdOf(id)).to.equal(notifyIdOf(id));
    }
  });
});
