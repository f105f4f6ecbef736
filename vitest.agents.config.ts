import { defineConfig } from "vitest/config";
import { compiledEngineHost } from "./vitest.config.js";

/** The real coding agents against the gateway (test/agents): minutes of prompt evaluation, so a tier of its own, run after `npm test`. */
export default defineConfig({
  test: {
    pool: "forks",
    ...compiledEngineHost,
    include: ["test/agents/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
