import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { SlotScheduler, type PrefixCache } from "../../src/engine/slot-scheduler.js";

class FakeSlot implements PrefixCache {
  constructor(
    readonly name: string,
    public cached: number[] = [],
  ) {}
  cachedPrefixLength(tokens: readonly number[]): number {
    let i = 0;
    while (i < tokens.length && i < this.cached.length && tokens[i] === this.cached[i]) i++;
    return i;
  }
}

const limits = { maxRequests: 2, maxTokens: 100, timeoutMs: 1_000, retryAfterMs: 500 };
const never = () => new AbortController().signal;

describe("SlotScheduler", () => {
  it("gives the free slot whose cache shares the longest prefix with the prompt", async () => {
    const a = new FakeSlot("a", [1, 2, 9]);
    const b = new FakeSlot("b", [1, 2, 3, 4]);
    const scheduler = new SlotScheduler([a, b], limits);
    expect(await scheduler.acquire([1, 2, 3, 5], never())).toBe(b);
    expect(await scheduler.acquire([1, 2, 3, 5], never())).toBe(a);
  });

  it("prefers the least recently used slot when no cache matches", async () => {
    const a = new FakeSlot("a");
    const b = new FakeSlot("b");
    const scheduler = new SlotScheduler([a, b], limits);
    const first = await scheduler.acquire([7], never());
    scheduler.release(first);
    expect(await scheduler.acquire([8], never())).not.toBe(first);
  });

  it("queues in FIFO order when every slot is busy", async () => {
    const scheduler = new SlotScheduler([new FakeSlot("a")], limits);
    const held = await scheduler.acquire([1], never());
    const order: string[] = [];
    const second = scheduler.acquire([2], never()).then((s) => (order.push("second"), s));
    const third = scheduler.acquire([3], never()).then((s) => (order.push("third"), s));
    expect(scheduler.queuedRequests).toBe(2);
    scheduler.release(held);
    scheduler.release(await second);
    await third;
    expect(order).toEqual(["second", "third"]);
  });

  it("rejects with 503 and a retry hint when the queue is full by requests", async () => {
    const scheduler = new SlotScheduler([new FakeSlot("a")], limits);
    await scheduler.acquire([1], never());
    void scheduler.acquire([1], never());
    void scheduler.acquire([1], never());
    const error = await scheduler.acquire([1], never()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect((error as ApiError).retryAfterMs).toBe(500);
  });

  it("rejects with 503 when the queued prompt tokens would pass the limit", async () => {
    const scheduler = new SlotScheduler([new FakeSlot("a")], limits);
    await scheduler.acquire([1], never());
    void scheduler.acquire(new Array(60).fill(1), never());
    const error = await scheduler.acquire(new Array(60).fill(1), never()).catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(503);
    expect(scheduler.queuedTokens).toBe(60);
  });

  it("rejects with 503 after waiting longer than the queue timeout, and forgets the waiter", async () => {
    const scheduler = new SlotScheduler([new FakeSlot("a")], { ...limits, timeoutMs: 30 });
    await scheduler.acquire([1], never());
    const error = await scheduler.acquire([1, 2], never()).catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(503);
    expect(scheduler.queuedRequests).toBe(0);
    expect(scheduler.queuedTokens).toBe(0);
  });

  it("drops a waiter whose client goes away, so the slot goes to the next one", async () => {
    const scheduler = new SlotScheduler([new FakeSlot("a")], limits);
    const held = await scheduler.acquire([1], never());
    const leaving = new AbortController();
    const gone = scheduler.acquire([2], leaving.signal).catch(() => "aborted");
    const next = scheduler.acquire([3], never());
    leaving.abort();
    expect(await gone).toBe("aborted");
    scheduler.release(held);
    expect(await next).toBe(held);
    expect(scheduler.busyCount).toBe(1);
  });
});
