import { LEASE_RETRY_MS, WINDOW_MS, msUntil, refilled, type AcquireResult, type BucketAdjustment, type BucketCharge, type BucketStore, type LeaseRequest } from "./bucket-store.js";

const SWEEP_ABOVE = 10_000;

/** Buckets in this process: the default, and the fallback when Redis fails (per instance, then). */
export class MemoryBucketStore implements BucketStore {
  readonly kind = "memory";
  private readonly buckets = new Map<string, { level: number; at: number }>();
  private readonly leases = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<AcquireResult> {
    const now = this.now();
    const levels = charges.map((c) => ({ level: this.level(c.key, c.capacity, now), capacity: c.capacity }));
    const deniedBy = charges.findIndex((c, i) => levels[i]!.level < c.cost);
    if (deniedBy >= 0) {
      const charge = charges[deniedBy]!;
      return { allowed: false, levels, deniedBy, retryAfterMs: msUntil(charge.cost, levels[deniedBy]!.level, charge.capacity), store: this };
    }
    if (lease && this.liveLeases(lease.key, now).size >= lease.limit) return { allowed: false, levels, deniedBy: -1, retryAfterMs: LEASE_RETRY_MS, store: this };
    charges.forEach((c, i) => {
      levels[i]!.level -= c.cost;
      this.buckets.set(c.key, { level: levels[i]!.level, at: now });
    });
    if (lease) this.liveLeases(lease.key, now).set(lease.id, now + lease.ttlMs);
    if (this.buckets.size > SWEEP_ABOVE) this.sweep(now);
    return { allowed: true, levels, store: this };
  }

  async adjust(adjustments: readonly BucketAdjustment[], release?: { key: string; id: string }): Promise<void> {
    const now = this.now();
    for (const a of adjustments) this.buckets.set(a.key, { level: Math.min(a.capacity, this.level(a.key, a.capacity, now) + a.delta), at: now });
    if (release) this.leases.get(release.key)?.delete(release.id);
  }

  async close(): Promise<void> {}

  private level(key: string, capacity: number, now: number): number {
    const bucket = this.buckets.get(key);
    return bucket ? refilled(bucket.level, now - bucket.at, capacity) : capacity;
  }

  private liveLeases(key: string, now: number): Map<string, number> {
    let leases = this.leases.get(key);
    if (!leases) this.leases.set(key, (leases = new Map()));
    for (const [id, expires] of leases) if (expires <= now) leases.delete(id);
    return leases;
  }

  /** Drops buckets that have refilled completely: they hold nothing a fresh one would not. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) if (now - bucket.at > WINDOW_MS && bucket.level >= 0) this.buckets.delete(key);
  }
}
