import { describe, expect, it } from "vitest";
import type { LlamaContext } from "node-llama-cpp";
import { threadsByPhase } from "../../src/engine/prompt-threads.js";

/** node-llama-cpp's native context as the addon makes it: read-only methods on a prototype. */
function fakeContext() {
  const calls: string[] = [];
  class Addon {
    initBatch(size: number) {
      calls.push(`init ${size}`);
    }
    async decodeBatch() {
      calls.push("decode");
    }
    setThreads(threads: number) {
      calls.push(`threads ${threads}`);
    }
  }
  for (const name of ["initBatch", "decodeBatch", "setThreads"]) Object.defineProperty(Addon.prototype, name, { writable: false });
  const native = new Addon();
  return { context: { _ctx: native } as unknown as LlamaContext, native, calls };
}

describe("threads by phase", () => {
  it("decodes prompt batches with the prompt's threads and single tokens with the context's own", async () => {
    const { context, native, calls } = fakeContext();
    let idle = 2;
    expect(threadsByPhase(context, 1, () => idle)).toBe(true);
    native.initBatch(300);
    native.setThreads(1); // node-llama-cpp's own call: ignored
    await native.decodeBatch();
    native.initBatch(1);
    await native.decodeBatch();
    native.initBatch(1);
    await native.decodeBatch(); // unchanged: no native call
    idle = 1;
    native.initBatch(40);
    await native.decodeBatch();
    expect(calls).toEqual(["init 300", "threads 2", "decode", "init 1", "threads 1", "decode", "init 1", "decode", "init 40", "decode"]);
  });

  it("does nothing where node-llama-cpp's internals are not as expected", () => {
    expect(threadsByPhase({} as LlamaContext, 1, () => 2)).toBe(false);
  });
});
