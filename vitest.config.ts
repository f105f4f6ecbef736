import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      // Pure JS, no model: first, two files at a time (the chat template corpus is split to use both cores).
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"], maxWorkers: 2, sequence: { groupOrder: 0 } } },
      // Model tests share two cores: then one file at a time keeps them from starving each other.
      { extends: true, test: { name: "model", include: ["test/{http,integration,e2e}/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
