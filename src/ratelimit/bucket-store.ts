// The storage contract of the rate limiter: token buckets that refill continuously to `capacity` over
// one window, charged all-or-nothing, plus leases that count requests in flight. The in-memory and the
// Redis stores implement the same arithmetic (the Redis one in Lua, so that it is atomic).

export const WINDOW_MS = 60_000;

export interface BucketCharge {
  key: string;
  /** Full level, and the amount refilled per window. */
  capacity: number;
  cost: number;
}

export interface LeaseRequest {
  key: string;
  limit: number;
  id: string;
  /** A lease its holder never released (a crashed instance) expires after this long. */
  ttlMs: number;
}

export interface BucketLevel {
  /** Level after the charge (before it, when denied); negative after an overdraw. */
  level: number;
  capacity: number;
}

export type AcquireResult =
  | { allowed: true; levels: BucketLevel[]; store: BucketStore }
  /** `deniedBy` is the index of the charge that did not fit, or -1 for the lease. */
  | { allowed: false; levels: BucketLevel[]; retryAfterMs: number; deniedBy: number; store: BucketStore };

export interface BucketAdjustment {
  key: string;
  capacity: number;
  /** Positive gives back (capped at capacity), negative charges more. */
  delta: number;
}

export interface BucketStore {
  readonly kind: string;
  acquire(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<AcquireResult>;
  adjust(adjustments: readonly BucketAdjustment[], release?: { key: string; id: string }): Promise<void>;
  close(): Promise<void>;
}

/** Level of a bucket last seen at `level` `elapsedMs` ago. */
export const refilled = (level: number, elapsedMs: number, capacity: number) => Math.min(capacity, level + (elapsedMs * capacity) / WINDOW_MS);

/** Time until a bucket at `level` holds `needed`. */
export const msUntil = (needed: number, level: number, capacity: number) => Math.max(0, Math.ceil(((needed - level) * WINDOW_MS) / capacity));

/** When every lease is taken, the earliest a retry could succeed is unknown; this is what clients are told. */
export const LEASE_RETRY_MS = 1_000;
