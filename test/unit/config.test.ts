import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, loadConfig, validateConfig } from "../../src/config/load.js";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { defaultThreadsPerContext } from "../../src/engine/cpu-budget.js";

const DEFAULT_YAML = resolve(PROJECT_ROOT, "config/default.yaml");

describe("configuration", () => {
  it("config/default.yaml documents exactly the schema's defaults", () => {
    expect(parse(readFileSync(DEFAULT_YAML, "utf8"))).toEqual(validateConfig({}));
  });

  it("applies defaults < file < environment < command line", () => {
    const config = loadConfig({
      argv: ["--config", DEFAULT_YAML, "--port", "9001", "--gpu", "off", "--model", "a.gguf", "--model", "hf:org/repo:Q8_0"],
      env: { GATEWAY_PORT: "9000", GATEWAY_SLOTS: "8", GATEWAY_GPU_LAYERS: "max" },
    });
    expect(config.server.port).toBe(9001);
    expect(config.engine.slots).toBe(8);
    expect(config.engine.gpu).toBe("off");
    expect(config.engine.gpuLayers).toBe("max");
    expect(config.models).toEqual([{ path: "a.gguf" }, { path: "hf:org/repo:Q8_0" }]);
  });

  it("takes a numeric --gpu-layers as a number and --prefix-cache as a boolean", () => {
    expect(loadConfig({ argv: ["--gpu-layers", "12"] }).engine.gpuLayers).toBe(12);
    expect(loadConfig({ argv: ["--prefix-cache", "false"] }).engine.prefixCache).toBe(false);
    expect(loadConfig({ env: { GATEWAY_PREFIX_CACHE: "true" } }).engine.prefixCache).toBe(true);
    expect(() => loadConfig({ argv: ["--prefix-cache", "maybe"] })).toThrow(/engine\.prefixCache: must be boolean/);
  });

  it("names the field and what was expected when a value is bad", () => {
    expect(() => loadConfig({ argv: ["--slots", "0"] })).toThrow(/engine\.slots: must be >= 1/);
    expect(() => loadConfig({ argv: ["--port", "http"] })).toThrow(/server\.port: must be integer/);
    expect(() => loadConfig({ argv: ["--gpu", "tpu"] })).toThrow(/engine\.gpu: expected one of "auto", "cuda", "vulkan", "metal", "off" \(got "tpu"\)/);
    expect(() => validateConfig({ queue: { maxRequest: 3 } })).toThrow(/queue: unknown key\(s\): maxRequest/);
  });

  it("rejects an unknown flag and an unreadable config file with a ConfigError", () => {
    expect(() => loadConfig({ argv: ["--slotz", "2"] })).toThrow(ConfigError);
    expect(() => loadConfig({ argv: ["--config", "/nonexistent.yaml"] })).toThrow(/cannot read config file/);
  });

  it("leaves a core for Node and gives each context at least one thread", () => {
    expect(defaultThreadsPerContext(4, 2)).toBe(1);
    expect(defaultThreadsPerContext(1, 2)).toBe(1);
    expect(defaultThreadsPerContext(1, 16)).toBe(15);
    expect(defaultThreadsPerContext(4, 16)).toBe(3);
  });
});
