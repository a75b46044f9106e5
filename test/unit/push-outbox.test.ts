import { expect } from 'chai';
import { hostIdentity, ownerGone, parseOwner, workerIdOf } from '../../src/outbox/lease-owner';

describe('push worker id', () => {
  it('keeps every lease owner within push_jobs.lease_owner (64 characters), whatever the host name', () => {
    for (const ns of [null, '4026531836']) {
      const host = hostIdentity('p'.repeat(63), ns); // a pod name's most
      const id = workerIdOf(host, 4_194_304, 'abcdef12.99'); // Linux's largest pid, a test's 99th outbox
      expect(`${id}:${2 ** 32}`.length).to.be.at.most(64);
      expect(`${id}:h`.length).to.be.at.most(64);
    }
    expect(workerIdOf(hostIdentity('vm', null), 42, 'abcdef12')).to.equal('vm:42:abcdef12');
    expect(hostIdentity('vm', '4026531836')).to.equal('vm~4026531836');
    expect(hostIdentity('we:ird host', null), 'no colon in the host part').to.equal('we-ird-host');
  });

  it('reads the worker back from a lease owner, and nothing from an owner that is not one', () => {
    expect(parseOwner('vm~4026531836:42:abcdef12:7')).to.deep.equal({
      host: 'vm~4026531836',
      pid: 42,
      random: 'abcdef12',
    });
    expect(parseOwner('vm:42:abcdef12:h')).to.deep.include({ pid: 42 });
    expect(parseOwner('dead-worker:1')).to.equal(null);
    expect(parseOwner('vm:x:abcdef12:1')).to.equal(null);
  });

  it('calls a lease owner gone only when it ran on this host and its process is not running', () => {
    const me = { host: 'vm~1', pid: 100, random: 'aaaa1111' };
    const alive = (pid: number) => pid === 200;
    expect(ownerGone('vm~1:300:bbbb2222:1', me, alive), 'pid gone').to.equal(true);
    expect(ownerGone('vm~1:200:bbbb2222:1', me, alive), 'pid running').to.equal(false);
    expect(ownerGone('vm~2:300:bbbb2222:1', me, alive), 'another pid namespace').to.equal(false);
    expect(ownerGone('other:300:bbbb2222:1', me, alive), 'another host').to.equal(false);
    // The same pid with another random part: this process's predecessor (a container restart).
    expect(ownerGone('vm~1:100:bbbb2222:h', me, alive)).to.equal(true);
    // The same process: another outbox of it, or this one.
    expect(ownerGone('vm~1:100:aaaa1111.2:3', me, alive)).to.equal(false);
    expect(ownerGone('vm~1:100:aaaa1111:h', me, alive)).to.equal(false);
    expect(ownerGone('dead-worker:1', me, alive), 'not ours to judge').to.equal(false);
  });
});
