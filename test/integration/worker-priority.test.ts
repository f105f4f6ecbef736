import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids } from "../../bench/process-memory.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

// engine.workerNice on Linux: the engine process's worker threads (where node-llama-cpp decodes) run at the
// configured nice value and its JS thread at the default, and generation works as before.
const niceOf = (pid: number, tid: number) => {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]); // field 19: nice
};
const isEngine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("engine-host");

describe("worker thread priority", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { workerNice: 7, isolation: "process" } });
  });
  afterAll(() => gw.close());

  it("runs the engine's decode threads at the nice value, its JS thread at 0", async () => {
    const answer = await gw.client.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
    expect(answer.usage?.completion_tokens).toBe(8);
    const engine = childPids(process.pid).find(isEngine);
    expect(engine).toBeDefined();
    const threads = readdirSync(`/proc/${engine}/task`).map(Number);
    expect(niceOf(engine!, engine!)).toBe(0);
    const workers = threads.filter((tid) => tid !== engine);
    expect(workers.length).toBeGreaterThan(4); // V8's helpers and the libuv pool (at least 4)
    expect(workers.map((tid) => niceOf(engine!, tid)).every((nice) => nice === 7)).toBe(true);
  });
});
