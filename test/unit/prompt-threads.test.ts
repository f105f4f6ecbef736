import { describe, expect, it } from "vitest";
import type { LlamaContext } from "node-llama-cpp";
import { CoreLending, MIN_BORROWING_BATCH, threadsByPhase } from "../../src/engine/prompt-threads.js";

/** node-llama-cpp's native context as the addon makes it: read-only methods on a prototype; `hold` keeps the next decodes running until released. */
function fakeContext(name = "", calls: string[] = []) {
  const held: (() => void)[] = [];
  const state = { hold: false };
  class Addon {
    initBatch(size: number) {
      calls.push(`${name}init ${size}`);
    }
    async decodeBatch() {
      calls.push(`${name}decode`);
      if (state.hold) await new Promise<void>((resolve) => held.push(resolve));
      calls.push(`${name}decoded`);
    }
    setThreads(threads: number) {
      calls.push(`${name}threads ${threads}`);
    }
  }
  for (const method of ["initBatch", "decodeBatch", "setThreads"]) Object.defineProperty(Addon.prototype, method, { writable: false });
  const native = new Addon();
  return { context: { _ctx: native } as unknown as LlamaContext, native, calls, state, finish: () => held.shift()!() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("threads by phase", () => {
  it("decodes prompt batches with the prompt's threads and single tokens with the context's own", async () => {
    const { context, native, calls } = fakeContext();
    let idle = 2;
    expect(threadsByPhase(context, 1, () => idle, new CoreLending(2))).toBe(true);
    native.initBatch(300);
    native.setThreads(1); // node-llama-cpp's own call: ignored
    await native.decodeBatch();
    native.initBatch(1);
    await native.decodeBatch();
    native.initBatch(1);
    await native.decodeBatch(); // unchanged: no native call
    native.initBatch(MIN_BORROWING_BATCH - 1); // too short to be worth the extra threads
    await native.decodeBatch();
    idle = 1;
    native.initBatch(400);
    await native.decodeBatch();
    expect(calls.filter((call) => call !== "decoded")).toEqual(["init 300", "threads 2", "decode", "init 1", "threads 1", "decode", "init 1", "decode", `init ${MIN_BORROWING_BATCH - 1}`, "decode", "init 400", "decode"]);
  });

  it("keeps a slot that starts during a prompt batch on borrowed cores waiting until the batch ends", async () => {
    const calls: string[] = [];
    const cores = new CoreLending(2);
    const a = fakeContext("a ", calls);
    const b = fakeContext("b ", calls);
    threadsByPhase(a.context, 1, () => 2, cores);
    threadsByPhase(b.context, 1, () => 2, cores);
    a.state.hold = true;
    a.native.initBatch(100);
    const prompt = a.native.decodeBatch();
    await settle();
    b.native.initBatch(1);
    const token = b.native.decodeBatch();
    await settle();
    expect(calls).toEqual(["a init 100", "a threads 2", "a decode", "b init 1"]); // b's decode has not started
    a.finish();
    await Promise.all([prompt, token]);
    expect(calls.slice(4)).toEqual(["a decoded", "b threads 1", "b decode", "b decoded"]);
  });

  it("lends only the cores no decode in flight is using, and one batch at a time", async () => {
    const calls: string[] = [];
    const cores = new CoreLending(4);
    const [a, b, c] = ["a ", "b ", "c "].map((name) => fakeContext(name, calls));
    for (const context of [a!, b!, c!]) threadsByPhase(context.context, 1, () => 4, cores);
    b!.state.hold = true;
    b!.native.initBatch(1);
    const token = b!.native.decodeBatch(); // one core in use
    await settle();
    a!.state.hold = true;
    a!.native.initBatch(300);
    const prompt = a!.native.decodeBatch(); // borrows the other three
    await settle();
    c!.native.initBatch(300);
    const second = c!.native.decodeBatch(); // no core left: waits
    await settle();
    expect(calls).toEqual(["b init 1", "b threads 1", "b decode", "a init 300", "a threads 3", "a decode", "c init 300"]);
    b!.finish(); // b's core is free: c takes it, and only it (a's batch holds the others)
    await Promise.all([token, second]);
    expect(calls.slice(7)).toEqual(["b decoded", "c threads 1", "c decode", "c decoded"]);
    a!.finish();
    await prompt;
    c!.native.initBatch(300);
    await c!.native.decodeBatch(); // every core free again
    expect(calls.slice(-3)).toEqual(["c threads 4", "c decode", "c decoded"]);
  });

  it("does nothing where node-llama-cpp's internals are not as expected", () => {
    expect(threadsByPhase({} as LlamaContext, 1, () => 2, new CoreLending(2))).toBe(false);
  });
});
