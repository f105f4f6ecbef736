import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { SlotScheduler, type PrefixCache } from "../../src/engine/slot-scheduler.js";

class FakeSlot implements PrefixCache {
  constructor(
    readonly name: string,
    public cached: number[] = [],
  ) {}
  get cachedLength(): number {
    return this.cached.length;
  }
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

  it("keeps a cache that another prompt shares only its first tokens with: A, B, A reuses A", async () => {
    const slots = ["a", "b", "c"].map((name) => new FakeSlot(name));
    const scheduler = new SlotScheduler(slots, limits);
    const promptA = [1, ...Array.from({ length: 50 }, (_, i) => 100 + i)];
    const promptB = [1, ...Array.from({ length: 50 }, (_, i) => 200 + i)];
    const run = async (prompt: number[]) => {
      const slot = await scheduler.acquire(prompt, never());
      slot.cached = [...prompt, 999]; // the prompt and an answer token, as a finished request leaves it
      scheduler.release(slot);
      return slot;
    };
    const first = await run(promptA);
    const other = await run(promptB);
    expect(other).not.toBe(first); // B shares only the BOS with A's cache: an empty slot is cheaper
    expect(await run(promptA)).toBe(first);
  });

  it("keeps each of N interleaved conversations on its own slot", async () => {
    const slots = ["a", "b", "c", "d"].map((name) => new FakeSlot(name));
    const scheduler = new SlotScheduler(slots, limits);
    const system = [1, 2, 3]; // a shared system prompt
    const history = Array.from({ length: 4 }, (_, c) => [...system, 10 + c, 20 + c, 30 + c, 40 + c]);
    const owner = new Map<number, FakeSlot>();
    for (let turn = 0; turn < 3; turn++) {
      for (let c = 0; c < 4; c++) {
        const slot = await scheduler.acquire(history[c]!, never());
        if (turn === 0) owner.set(c, slot);
        else expect(slot.name).toBe(owner.get(c)!.name);
        history[c]!.push(50 + turn, 60 + c); // the answer, then the next user turn
        slot.cached = history[c]!.slice(0, -1);
        scheduler.release(slot);
      }
    }
    expect(new Set(owner.values()).size).toBe(4);
  });

  it("evicts the least recently used conversation when there are more conversations than slots", async () => {
    const slots = ["a", "b"].map((name) => new FakeSlot(name));
    const scheduler = new SlotScheduler(slots, limits);
    const use = async (prompt: number[]) => {
      const slot = await scheduler.acquire(prompt, never());
      slot.cached = [...prompt];
      scheduler.release(slot);
      return slot;
    };
    const one = await use([1, 10, 11]);
    const two = await use([1, 20, 21]);
    await use([1, 10, 11, 12]); // conversation one again: now two is the least recently used
    expect(await use([1, 30, 31])).toBe(two);
    expect(one.cached).toEqual([1, 10, 11, 12]);
  });

  it("takes a partly matching slot only when enough of the prompt or of its cache is shared (the threshold is configurable)", async () => {
    const held = new FakeSlot("held", [1, 2, 3, 4, 5, 6, 7, 8]);
    const empty = new FakeSlot("empty");
    const prompt = [1, 2, 3, 9, 10, 11, 12, 13];
    expect(await new SlotScheduler([held, empty], limits).acquire([1, 2, 3, 9], never())).toBe(held); // 3 of its 4 tokens
    expect(await new SlotScheduler([held, empty], limits).acquire(prompt, never())).toBe(empty);
    expect(await new SlotScheduler([held, empty], limits, 0.3).acquire(prompt, never())).toBe(held);
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
