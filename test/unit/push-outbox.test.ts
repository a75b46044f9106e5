import { expect } from 'chai';
import { workerIdOf } from '../../src/outbox/push-outbox';

describe('push worker id', () => {
  it('keeps every lease owner within push_jobs.lease_owner (64 characters), whatever the host name', () => {
    const id = workerIdOf('p'.repeat(63), 4_194_304, 'abcdef12'); // a pod name's most, Linux's largest pid
    expect(`${id}:${2 ** 32}`.length).to.be.at.most(64);
    expect(`${id}:h`.length).to.be.at.most(64);
    expect(workerIdOf('vm', 42, 'abcdef12')).to.equal('vm:42:abcdef12');
  });
});
