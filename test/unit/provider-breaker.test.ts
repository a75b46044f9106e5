import { expect } from 'chai';
import { ProviderBreaker, type StateChange } from '../../src/outbox/provider-breaker';
import type { PushOutcome } from '../../src/push/push-provider';

const sent: PushOutcome = { kind: 'sent' };
const down = (retryAfterMs?: number): PushOutcome => ({
  kind: 'retry',
  reason: 'getui no code (HTTP 503)',
  cause: 'outage',
  retryAfterMs,
});

describe('push provider breaker', () => {
  it('is down at the first outage, probes every interval, and recovers at the first answer', () => {
    const changes: StateChange[] = [];
    const b = new ProviderBreaker(2000, (c) => changes.push(c));
    expect(b.mode(0)).to.equal('send');
    b.observe(down(), b.generation, 1000);
    expect(b.state).to.equal('failing');
    expect(b.mode(2999)).to.equal('wait');
    expect(b.waitUntil(1500)).to.equal(3000);
    expect(b.mode(3000)).to.equal('probe');
    b.probing(3000);
    b.observe(down(), b.generation, 3100); // the probe's answer
    expect(b.mode(5099)).to.equal('wait');
    expect(b.mode(5100)).to.equal('probe');
    b.probing(5100);
    b.observe(sent, b.generation, 5200);
    expect(b.state).to.equal('recovering');
    expect(b.mode(5200)).to.equal('send');
    expect(b.releaseDue(5200)).to.equal(true);
    b.released(5200);
    b.caughtUp();
    expect(changes).to.deep.equal([
      { state: 'failing', reason: 'getui no code (HTTP 503)' },
      { state: 'recovering', downMs: 4200 },
      { state: 'up' },
    ]);
  });

  it('waits for a Retry-After longer than the probe interval', () => {
    const b = new ProviderBreaker(2000);
    b.observe(down(120_000), b.generation, 0);
    expect(b.mode(119_999)).to.equal('wait');
    expect(b.mode(120_000)).to.equal('probe');
  });

  it('takes no answer to a call made before the outage for a sign that it is over', () => {
    const b = new ProviderBreaker(2000);
    const before = b.generation;
    b.observe(down(), before, 0);
    b.observe(sent, before, 10); // in flight when the outage was seen
    expect(b.state).to.equal('failing');
    expect(b.releaseDue(10)).to.equal(false);
    b.observe(down(), before, 20); // nor an old failure for the probe's
    expect(b.mode(2000)).to.equal('probe');
  });

  it('pauses every call for a rate limit without calling the provider down', () => {
    const b = new ProviderBreaker(2000);
    b.observe({ kind: 'retry', reason: 'getui 10005', cause: 'rate_limit', retryAfterMs: 60_000 }, 0, 0);
    expect(b.state).to.equal('up');
    expect(b.mode(59_999)).to.equal('wait');
    expect(b.pausedTill(30_000)).to.equal(60_000);
    expect(b.mode(60_000)).to.equal('send');
    expect(b.pausedTill(60_000)).to.equal(null);
  });

  it('while up, releases what others parked at most once a probe interval, and only after an answer', () => {
    const b = new ProviderBreaker(2000);
    expect(b.releaseDue(0), 'nothing answered yet').to.equal(false);
    b.observe(sent, 0, 0);
    expect(b.releaseDue(0), 'the first answer of a new process').to.equal(true);
    b.released(0);
    b.observe(sent, 0, 1000);
    expect(b.releaseDue(1999)).to.equal(false);
    expect(b.releaseDue(2000)).to.equal(true);
    b.observe(down(), 0, 2000);
    expect(b.releaseDue(4000), 'not while down').to.equal(false);
  });
});
