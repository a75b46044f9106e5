/** A clock tests move forward by hand, so back-offs, leases and token lifetimes pass without waiting. */
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;

  advance(ms: number): void {
    this.offset += ms;
  }
}
