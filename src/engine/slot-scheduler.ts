import { overloaded } from "../errors.js";

/** What the scheduler needs to know of a slot: how much of a prompt its KV cache already holds. */
export interface PrefixCache {
  cachedPrefixLength(tokens: readonly number[]): number;
}

export interface QueueLimits {
  maxRequests: number;
  maxTokens: number;
  timeoutMs: number;
  retryAfterMs: number;
}

interface Waiter<S> {
  tokens: readonly number[];
  resolve(slot: S): void;
  reject(error: unknown): void;
  cleanup(): void;
}

/**
 * Hands out slots to requests: at once when one is free, else in FIFO order from a queue bounded by
 * requests and by prompt tokens. Among free slots it picks the one whose cache shares the longest
 * prefix with the prompt, and on a tie the one used least recently (to keep warm caches around).
 */
export class SlotScheduler<S extends PrefixCache> {
  private readonly free: S[];
  private readonly lastUsed = new Map<S, number>();
  private readonly waiting: Waiter<S>[] = [];
  private queuedTokenCount = 0;
  private useCounter = 0;

  constructor(
    private readonly slots: readonly S[],
    private readonly limits: QueueLimits,
  ) {
    this.free = [...slots];
  }

  acquire(tokens: readonly number[], signal: AbortSignal): Promise<S> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free.length > 0 && this.waiting.length === 0) return Promise.resolve(this.take(tokens));
    if (this.waiting.length >= this.limits.maxRequests)
      return Promise.reject(overloaded(`All ${this.slots.length} slots are busy and the queue is full (${this.limits.maxRequests} requests). Retry later.`, this.limits.retryAfterMs));
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
          const index = this.waiting.indexOf(waiter);
          if (index !== -1) this.waiting.splice(index, 1);
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
      this.waiting.push(waiter);
    });
  }

  release(slot: S): void {
    this.free.push(slot);
    const next = this.waiting[0];
    if (!next) return;
    next.cleanup();
    next.resolve(this.take(next.tokens));
  }

  get busyCount(): number {
    return this.slots.length - this.free.length;
  }

  get queuedRequests(): number {
    return this.waiting.length;
  }

  get queuedTokens(): number {
    return this.queuedTokenCount;
  }

  private take(tokens: readonly number[]): S {
    let bestIndex = 0;
    let bestPrefix = -1;
    for (let i = 0; i < this.free.length; i++) {
      const slot = this.free[i]!;
      const prefix = slot.cachedPrefixLength(tokens);
      const better =
        prefix > bestPrefix ||
        (prefix === bestPrefix && (this.lastUsed.get(slot) ?? -1) < (this.lastUsed.get(this.free[bestIndex]!) ?? -1));
      if (better) {
        bestIndex = i;
        bestPrefix = prefix;
      }
    }
    const [slot] = this.free.splice(bestIndex, 1);
    this.lastUsed.set(slot!, ++this.useCounter);
    return slot!;
  }
}
