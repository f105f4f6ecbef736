import { describe, expect, it } from "vitest";
import { workerPoolSize } from "../../src/engine/worker-pool.js";

describe("engine process libuv pool size", () => {
  const demand = { layout: "per-slot" as const, threads: 0, configured: 0 };

  it("holds as many per-slot decodes as the cores take when slots outnumber them", () => {
    expect(workerPoolSize({ ...demand, contexts: 8 }, 2)).toBe(2);
    expect(workerPoolSize({ ...demand, contexts: 32 }, 16)).toBe(16);
    expect(workerPoolSize({ ...demand, contexts: 8, threads: 2 }, 16)).toBe(8);
    expect(workerPoolSize({ ...demand, contexts: 8, layout: "auto" }, 4)).toBe(4);
  });

  it("keeps one thread per context plus two when the cores hold every decode", () => {
    expect(workerPoolSize({ ...demand, contexts: 1 }, 2)).toBe(2);
    expect(workerPoolSize({ ...demand, contexts: 4 }, 16)).toBe(5); // 3 threads per context (one core left for Node)
    expect(workerPoolSize({ ...demand, contexts: 4, threads: 1 }, 16)).toBe(6);
  });

  it("never goes below two threads, even with more threads per context than cores", () => {
    expect(workerPoolSize({ ...demand, contexts: 4, threads: 8 }, 2)).toBe(2);
  });

  it("leaves the batched layout its sampling threads, and a configured size as it is", () => {
    expect(workerPoolSize({ ...demand, contexts: 1, layout: "batched" }, 2)).toBe(4);
    expect(workerPoolSize({ ...demand, contexts: 1, layout: "batched" }, 64)).toBe(4);
    expect(workerPoolSize({ ...demand, contexts: 8, configured: 12 }, 2)).toBe(12);
  });
});
