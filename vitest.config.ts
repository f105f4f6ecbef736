import { resolve } from "node:path";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Model test files that assert nothing about time or throughput and evaluate only short prompts: they run two at a
 * time, beside the unit tests. Everything else that loads a model (timing, fairness, cancellation latency, long
 * prompts, process lifecycles, memory budgets) runs afterwards, one file at a time, with both cores to itself; so does
 * a test that counts what arrives after an abort (openai-sdk, responses, websocket, tool-calls, upstreams): on a
 * shared core its client reads more of what was already sent.
 */
const SHARED_CORES = [
  "test/http/**/*.test.ts",
  "test/e2e/cross-origin.test.ts",
  ...[
    "anthropic-messages", "api-breadth", "bad-input", "chat-templates", "choices-and-logprobs", "cross-origin", "docs", "embeddings",
    "prefix-cache", "reasoning", "sampling", "speculative", "sse-wire", "third-party-clients", "tracing", "upstream-keepalive",
  ].map((name) => `test/integration/${name}.test.ts`),
];

/** Engine processes run the compiled engine host, built once before the tests (test/global-setup.ts). */
export const compiledEngineHost = {
  globalSetup: ["test/global-setup.ts"],
  env: { GATEWAY_ENGINE_HOST: resolve(import.meta.dirname, "dist/src/engine/isolated/engine-host.js") },
};

export default defineConfig({
  test: {
    pool: "forks",
    ...compiledEngineHost,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One count for the run: vitest wants the same one for projects that run together.
    maxWorkers: 2,
    projects: [
      // Pure JS (the chat template corpus is split to use both cores), and the model files above: first, two at a time.
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "shared", include: SHARED_CORES, sequence: { groupOrder: 0 } } },
      // The rest of the model tests: one file at a time keeps them from starving each other of the two cores.
      { extends: true, test: { name: "model", include: ["test/{http,integration,e2e}/**/*.test.ts"], exclude: [...configDefaults.exclude, ...SHARED_CORES], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
