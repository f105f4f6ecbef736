import { describe, expect, it } from "vitest";
import { workerPoolSize } from "../../src/engine/worker-pool.js";

describe("engine process libuv pool size", () => {
  const perSlot = { layout: "per-slot" as const, threads: 0, workerThreads: 0 };

  it("holds as many per-slot decodes as the cores take when slots outnumber them", () => {
    expect(workerPoolSize({ ...perSlot, slots: 8 }, 1, 2)).toBe(2);
    expect(workerPoolSize({ ...perSlot, slots: 32 }, 1, 16)).toBe(16);
    expect(workerPoolSize({ ...perSlot, slots: 8, threads: 2 }, 1, 16)).toBe(8);
    expect(workerPoolSize({ ...perSlot, slots: 8, layout: "auto" }, 1, 4)).toBe(4);
    expect(workerPoolSize({ ...perSlot, slots: 4 }, 3, 4)).toBe(4); // three in-process engines share the pool
  });

  it("keeps one thread per context plus two when the cores hold every decode", () => {
    expect(workerPoolSize({ ...perSlot, slots: 1 }, 1, 2)).toBe(2);
    expect(workerPoolSize({ ...perSlot, slots: 4 }, 1, 16)).toBe(5); // 3 threads per context (one core left for Node)
    expect(workerPoolSize({ ...perSlot, slots: 4, threads: 1 }, 1, 16)).toBe(6);
  });

  it("never goes below two threads, even with more threads per context than cores", () => {
    expect(workerPoolSize({ ...perSlot, slots: 4, threads: 8 }, 1, 2)).toBe(2);
  });

  it("leaves the batched layout its sampling threads, and a configured size as it is", () => {
    expect(workerPoolSize({ ...perSlot, slots: 8, layout: "batched" }, 1, 2)).toBe(4);
    expect(workerPoolSize({ ...perSlot, slots: 8, layout: "batched" }, 1, 64)).toBe(4);
    expect(workerPoolSize({ ...perSlot, slots: 8, workerThreads: 12 }, 1, 2)).toBe(12);
  });
});
