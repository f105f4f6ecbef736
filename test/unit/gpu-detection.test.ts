import { describe, expect, it } from "vitest";
import { hasUsableGpu } from "../../src/engine/llama-runtime.js";

// gpu: auto on a machine whose Vulkan loader finds only Mesa's software drivers (or nothing) is a CPU machine.
describe("a usable GPU behind a loaded backend", () => {
  it("is a device that is not a software renderer, with memory", () => {
    expect(hasUsableGpu(["NVIDIA H200"], 143e9)).toBe(true);
    expect(hasUsableGpu(["llvmpipe (LLVM 19.1.7, 256 bits)", "NVIDIA GeForce RTX 4090"], 24e9)).toBe(true);
  });

  it("is not there with no device, only software devices, or no memory", () => {
    expect(hasUsableGpu([], 0)).toBe(false);
    expect(hasUsableGpu([], 8e9)).toBe(false);
    expect(hasUsableGpu(["llvmpipe (LLVM 19.1.7, 256 bits)"], 16e9)).toBe(false);
    expect(hasUsableGpu(["SwiftShader Device (Subzero)"], 1e9)).toBe(false);
    expect(hasUsableGpu(["NVIDIA H200"], 0)).toBe(false);
  });
});
