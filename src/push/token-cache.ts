export interface Token {
  value: string;
  /** When to fetch the next one: some time ahead of its expiry. */
  refreshAt: number;
}

/**
 * A provider's access token, cached until its refresh time, with one fetch in flight shared by every caller
 * (GeTui's /auth allows about 100 calls a minute; Google's token endpoint is rate limited too).
 */
export class TokenCache {
  private token: Token | null = null;
  private refreshing: Promise<string> | null = null;

  constructor(
    private readonly fetch: () => Promise<Token>,
    private readonly now: () => number,
  ) {}

  current(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return Promise.resolve(this.token.value);
    return this.renew(this.token?.value ?? null);
  }

  /** A token newer than `stale` (one the provider refused): another caller's, the fetch in flight, or a new one. */
  renew(stale: string | null): Promise<string> {
    if (this.token && this.token.value !== stale && this.now() < this.token.refreshAt) {
      return Promise.resolve(this.token.value);
    }
    this.refreshing ??= this.fetch()
      .then((token) => {
        this.token = token;
        return token.value;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }
}
