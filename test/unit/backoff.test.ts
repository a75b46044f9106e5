import { expect } from 'chai';
import { retryDelay } from '../../src/outbox/backoff';

describe('retry back-off', () => {
  const settings = { retryBaseMs: 1000, retryMaxMs: 60_000 };

  it('doubles from the base, half fixed and half jitter', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, settings, undefined, () => 0))).to.deep.equal([
      500, 1000, 2000, 4000,
    ]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, settings, undefined, () => 1))).to.deep.equal([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('stops growing at the cap, even after very many attempts', () => {
    expect(retryDelay(7, settings, undefined, () => 1)).to.equal(60_000);
    expect(retryDelay(10_000, settings, undefined, () => 0)).to.equal(30_000);
  });

  it("is never shorter than the provider's Retry-After, which is honoured up to a day", () => {
    expect(retryDelay(1, settings, 120_000, () => 1)).to.equal(120_000);
    expect(retryDelay(6, settings, 100, () => 0)).to.equal(16_000);
    expect(retryDelay(1, settings, 7 * 24 * 3600_000, () => 0)).to.equal(24 * 3600_000);
  });
});
