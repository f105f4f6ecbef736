import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { SlotScheduler, type PrefixCache } from "../../src/engine/slot-scheduler.js";

class FakeSlot implements PrefixCache {
  cachedLength = 0;
  cachedPrefixLength(): number {
    return 0;
  }
}

const limits = { maxRequests: 100, maxTokens: 10_000, timeoutMs: 5_000, retryAfterMs: 500 };
const never = () => new AbortController().signal;

/** One slot, held; then `waiters` queue in the given order; returns the order in which they get the slot. */
async function serviceOrder(scheduler: SlotScheduler<FakeSlot>, waiters: { name: string; tenant: string; weight?: number; priority?: number }[]): Promise<string[]> {
  const held = await scheduler.acquire([1], never(), { tenant: "holder", weight: 1, priority: 0 });
  const order: string[] = [];
  const all = waiters.map((w) =>
    scheduler.acquire([1], never(), { tenant: w.tenant, weight: w.weight ?? 1, priority: w.priority ?? 0 }).then((slot) => {
      order.push(w.name);
      scheduler.release(slot); // served at once, and the slot goes to the next one in turn
    }),
  );
  scheduler.release(held);
  await Promise.all(all);
  return order;
}

const flood = (tenant: string, n: number, extra: object = {}) => Array.from({ length: n }, (_, i) => ({ name: `${tenant}${i}`, tenant, ...extra }));

describe("fair queueing between API keys", () => {
  it("serves two keys in turn (1:1), although one queued a flood first", async () => {
    const order = await serviceOrder(new SlotScheduler([new FakeSlot()], limits), [...flood("a", 6), ...flood("b", 3)]);
    expect(order).toEqual(["a0", "b0", "a1", "b1", "a2", "b2", "a3", "a4", "a5"]);
  });

  it("serves by weight (2:1)", async () => {
    const order = await serviceOrder(new SlotScheduler([new FakeSlot()], limits), [...flood("a", 8, { weight: 2 }), ...flood("b", 4)]);
    expect(order.slice(0, 9).map((name) => name[0]).join("")).toBe("abaabaaba");
  });

  it("serves first come, first served with policy fifo", async () => {
    const order = await serviceOrder(new SlotScheduler([new FakeSlot()], { ...limits, policy: "fifo" }), [...flood("a", 3), ...flood("b", 2)]);
    expect(order).toEqual(["a0", "a1", "a2", "b0", "b1"]);
  });

  it("gives a lone key every slot (work-conserving)", async () => {
    const slots = [new FakeSlot(), new FakeSlot(), new FakeSlot()];
    const scheduler = new SlotScheduler(slots, limits);
    const got = await Promise.all([1, 2, 3].map(() => scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 })));
    expect(new Set(got).size).toBe(3);
    const waiting = scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 });
    scheduler.release(got[0]!);
    expect(await waiting).toBe(got[0]);
  });

  it("runs a key's lower priority values first, then in arrival order", async () => {
    const order = await serviceOrder(new SlotScheduler([new FakeSlot()], limits), [
      { name: "late", tenant: "a", priority: 5 },
      { name: "first", tenant: "a", priority: -1 },
      { name: "second", tenant: "a", priority: 0 },
      { name: "third", tenant: "a", priority: 0 },
    ]);
    expect(order).toEqual(["first", "second", "third", "late"]);
  });

  it("caps one key's waiting requests (queue.maxRequestsPerKey) while other keys still queue", async () => {
    const scheduler = new SlotScheduler([new FakeSlot()], { ...limits, maxRequestsPerKey: 2 });
    await scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 });
    void scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 });
    void scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 });
    const refused = await scheduler.acquire([1], never(), { tenant: "a", weight: 1, priority: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(503);
    expect((refused as ApiError).retryAfterMs).toBe(500);
    void scheduler.acquire([1], never(), { tenant: "b", weight: 1, priority: 0 });
    expect(scheduler.queuedByTenant).toEqual({ a: 2, b: 1 });
  });

  it("drops a waiting request whose client left from its key's queue", async () => {
    const scheduler = new SlotScheduler([new FakeSlot()], limits);
    const held = await scheduler.acquire([1], never());
    const leaving = new AbortController();
    const gone = scheduler.acquire([1], leaving.signal, { tenant: "a", weight: 1, priority: 0 }).catch(() => "left");
    const staying = scheduler.acquire([1], never(), { tenant: "b", weight: 1, priority: 0 });
    expect(scheduler.queuedByTenant).toEqual({ a: 1, b: 1 });
    leaving.abort();
    expect(await gone).toBe("left");
    expect(scheduler.queuedByTenant).toEqual({ b: 1 });
    scheduler.release(held);
    expect(await staying).toBe(held);
  });
});
