import { describe, expect, it } from "vitest";
import type { LlamaModel } from "node-llama-cpp";
import { choosePooling, normalizeVector } from "../../src/engine/embedder.js";

const modelDeclaring = (pooling_type?: number) => ({ fileInfo: { metadata: { general: { architecture: "bert" }, bert: { pooling_type } } } }) as unknown as LlamaModel;

describe("embedding pooling and normalization", () => {
  it("takes the GGUF's own pooling, and refuses a different one", () => {
    expect(choosePooling(modelDeclaring(1), "auto")).toEqual({ pooling: "mean", source: "gguf" });
    expect(choosePooling(modelDeclaring(2), "cls")).toEqual({ pooling: "cls", source: "gguf" });
    expect(() => choosePooling(modelDeclaring(1), "last")).toThrow(/declares 'mean'/);
  });

  it("falls back to the last token for a model that declares none, or takes the setting", () => {
    expect(choosePooling(modelDeclaring(undefined), "auto")).toEqual({ pooling: "last", source: "fallback" });
    expect(choosePooling(modelDeclaring(0), "mean")).toEqual({ pooling: "mean", source: "config" });
  });

  it("normalizes as llama-server's embd_normalize does", () => {
    expect(normalizeVector([3, 4], 2)).toEqual([0.6, 0.8]);
    expect(normalizeVector([3, 4], -1)).toEqual([3, 4]);
    expect(normalizeVector([3, -1], 1)).toEqual([0.75, -0.25]);
    expect(normalizeVector([2, -4], 0)).toEqual([16380, -32760]);
    expect(normalizeVector([0, 0], 2)).toEqual([0, 0]);
  });
});
