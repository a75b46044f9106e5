import { expect } from 'chai';
import { pushRequestId } from '../../src/outbox/push-request';

describe('push request ids', () => {
  it('builds request_ids of 10 to 32 characters, stable for a job', () => {
    expect(pushRequestId(1, 1)).to.equal('pushpic-1-1');
    expect(pushRequestId(2147483647, 2147483647)).to.have.length.within(10, 32);
    const huge = pushRequestId(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    expect(huge).to.have.length(32);
    expect(huge).to.equal(pushRequestId(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
  });
});
