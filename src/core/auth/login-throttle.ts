import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

/**
 * Counts failed logins per client (IP) in a fixed window. Only failures count, so people who
 * log in successfully many times (or many users behind one proxy) are never locked out; a
 * client that has used up its failures is refused until its window ends.
 */
export class FailedLoginCounter {
  private readonly entries = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Most clients remembered; the oldest are forgotten first. Default 10 000. */
    private readonly maxClients = 10_000,
  ) {}

  /** Failures of `client` in its current window, and ms until that window ends. */
  peek(client: string): { count: number; ttlMs: number } {
    const entry = this.live(client);
    return entry
      ? { count: entry.count, ttlMs: entry.windowStart + this.windowMs - this.now() }
      : { count: 0, ttlMs: this.windowMs };
  }

  recordFailure(client: string): void {
    const entry = this.live(client);
    if (entry) {
      entry.count += 1;
      return;
    }
    this.entries.delete(client);
    this.entries.set(client, { count: 1, windowStart: this.now() });
    if (this.entries.size > this.maxClients) this.prune();
  }

  /**
   * A store for @fastify/rate-limit that answers "how many attempts including this one" from the
   * failure count without counting the attempt itself; the route records failures.
   */
  rateLimitStore(): FastifyRateLimitStoreCtor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the plugin instantiates the class itself
    const counter = this;
    return class FailedLoginStore implements FastifyRateLimitStore {
      incr(
        key: string,
        callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      ): void {
        const { count, ttlMs } = counter.peek(key);
        callback(null, { current: count + 1, ttl: ttlMs });
      }
      child(): FastifyRateLimitStore {
        return this;
      }
    };
  }

  private live(client: string): { count: number; windowStart: number } | undefined {
    const entry = this.entries.get(client);
    if (entry && this.now() - entry.windowStart < this.windowMs) return entry;
    return undefined;
  }

  private prune(): void {
    for (const [client, entry] of this.entries) {
      if (this.now() - entry.windowStart >= this.windowMs || this.entries.size > this.maxClients)
        this.entries.delete(client);
      else break;
    }
  }
}
