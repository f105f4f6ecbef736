import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/** The real coding agents against the gateway (test/agents): minutes of prompt evaluation, so a tier of its own, run after `npm test`. */
export default defineConfig({
  test: {
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
    env: { GATEWAY_ENGINE_HOST: resolve(import.meta.dirname, "dist/src/engine/isolated/engine-host.js") },
    include: ["test/agents/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
