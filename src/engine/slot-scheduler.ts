import { overloaded } from "../errors.js";
import { ANONYMOUS_TICKET, TenantQueues, type Ticket } from "./tenant-queues.js";

/** What the scheduler needs to know of a slot: how many tokens its KV cache holds, and how much of a prompt. */
export interface PrefixCache {
  /** Tokens the slot's cache holds now (0: empty). */
  readonly cachedLength: number;
  cachedPrefixLength(tokens: readonly number[]): number;
}

export interface QueueLimits {
  maxRequests: number;
  maxTokens: number;
  timeoutMs: number;
  retryAfterMs: number;
  /** Requests one tenant may have waiting (0 = no per-tenant cap). */
  maxRequestsPerKey?: number;
  /** fair: tenants share slots by weight; fifo: first come, first served. */
  policy?: "fair" | "fifo";
}

interface Waiter<S> {
  tokens: readonly number[];
  resolve(slot: S): void;
  reject(error: unknown): void;
  cleanup(): void;
}

/**
 * Hands out slots to requests: at once when one is free, else from a queue bounded by requests and by
 * prompt tokens, in turn by tenant (see TenantQueues: weighted fair sharing between API keys, priority
 * and arrival order within one). Which free slot: the one whose cache shares the longest prefix with
 * the prompt, if that prefix is at least `reuseThreshold` of the prompt (llama-server's
 * --slot-prompt-similarity) or of what the slot holds (its conversation's earlier turn); otherwise an
 * empty slot; otherwise the least recently used one. A slot holding another conversation that merely
 * shares the BOS or the template's opening tokens is never taken while a cheaper slot is free, so
 * interleaved conversations keep their caches.
 */
export class SlotScheduler<S extends PrefixCache> {
  private readonly free: S[];
  private readonly lastUsed = new Map<S, number>();
  private readonly waiting: TenantQueues<Waiter<S>>;
  private queuedTokenCount = 0;
  private useCounter = 0;

  constructor(
    private readonly slots: readonly S[],
    private readonly limits: QueueLimits,
    /** A slot is chosen for its cache when the shared prefix is at least this share of the prompt or of the slot's cache (0 to 1; 0 = any shared token). */
    private readonly reuseThreshold = 0.5,
  ) {
    this.free = [...slots];
    this.waiting = new TenantQueues(limits.policy ?? "fair");
  }

  acquire(tokens: readonly number[], signal: AbortSignal, ticket: Ticket = ANONYMOUS_TICKET): Promise<S> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free.length > 0 && this.waiting.size === 0) {
      this.waiting.charge(ticket);
      return Promise.resolve(this.take(tokens));
    }
    if (this.waiting.size >= this.limits.maxRequests)
      return Promise.reject(overloaded(`All ${this.slots.length} slots are busy and the queue is full (${this.limits.maxRequests} requests). Retry later.`, this.limits.retryAfterMs));
    const perKey = this.limits.maxRequestsPerKey ?? 0;
    if (perKey > 0 && this.waiting.countOf(ticket.tenant) >= perKey)
      return Promise.reject(overloaded(`All slots are busy and '${ticket.tenant}' already has ${perKey} requests waiting (queue.maxRequestsPerKey). Retry later.`, this.limits.retryAfterMs));
    if (this.queuedTokenCount + tokens.length > this.limits.maxTokens)
      return Promise.reject(overloaded(`All slots are busy and the queue holds too many prompt tokens (limit ${this.limits.maxTokens}). Retry later.`, this.limits.retryAfterMs));
    return new Promise<S>((resolve, reject) => {
      const waiter: Waiter<S> = {
        tokens,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          this.queuedTokenCount -= tokens.length;
          this.waiting.remove(entry);
        },
      };
      const timer = setTimeout(() => {
        waiter.cleanup();
        reject(overloaded(`Waited ${this.limits.timeoutMs} ms for a free slot. Retry later.`, this.limits.retryAfterMs));
      }, this.limits.timeoutMs);
      const onAbort = () => {
        waiter.cleanup();
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.queuedTokenCount += tokens.length;
      const entry = this.waiting.push(waiter, ticket);
    });
  }

  release(slot: S): void {
    this.lastUsed.set(slot, ++this.useCounter); // its cache is as fresh as its last request's end
    this.free.push(slot);
    const next = this.waiting.shift();
    if (!next) return;
    next.cleanup();
    next.resolve(this.take(next.tokens));
  }

  get busyCount(): number {
    return this.slots.length - this.free.length;
  }

  get queuedRequests(): number {
    return this.waiting.size;
  }

  /** Requests waiting, by tenant. */
  get queuedByTenant(): Record<string, number> {
    return this.waiting.counts();
  }

  get queuedTokens(): number {
    return this.queuedTokenCount;
  }

  private take(tokens: readonly number[]): S {
    const index = this.cacheHit(tokens) ?? this.emptyOrLeastRecentlyUsed();
    const [slot] = this.free.splice(index, 1);
    this.lastUsed.set(slot!, ++this.useCounter);
    return slot!;
  }

  /** The free slot whose cache the prompt reuses most, if enough of the prompt or of the cache is shared; longest prefix first, then least recently used. */
  private cacheHit(tokens: readonly number[]): number | undefined {
    let best: number | undefined;
    let bestPrefix = 0;
    for (let i = 0; i < this.free.length; i++) {
      const slot = this.free[i]!;
      const held = slot.cachedLength;
      if (held === 0) continue;
      const prefix = slot.cachedPrefixLength(tokens);
      if (prefix === 0 || prefix < this.reuseThreshold * Math.min(held, tokens.length)) continue;
      if (prefix > bestPrefix || (prefix === bestPrefix && this.lastUse(slot) < this.lastUse(this.free[best!]!))) {
        best = i;
        bestPrefix = prefix;
      }
    }
    return best;
  }

  /** An empty slot (no cache to lose), else the one whose cache was used least recently. */
  private emptyOrLeastRecentlyUsed(): number {
    let best = 0;
    for (let i = 1; i < this.free.length; i++) {
      const slot = this.free[i]!;
      const current = this.free[best]!;
      const better = (slot.cachedLength === 0) !== (current.cachedLength === 0) ? slot.cachedLength === 0 : this.lastUse(slot) < this.lastUse(current);
      if (better) best = i;
    }
    return best;
  }

  /** When the slot was last taken or released (a counter; never: -1). */
  private lastUse(slot: S): number {
    return this.lastUsed.get(slot) ?? -1;
  }
}
