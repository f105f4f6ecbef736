import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

// Builds src/ once (tsc, ~10 s) so that the engine processes the tests start run compiled JavaScript
// (GATEWAY_ENGINE_HOST, set in vitest.config.ts): through tsx each of the suite's ~150 engine starts costs
// ~0.9 s more CPU. The gateways themselves still run from the sources, in the test's process.
export default function setup(): void {
  const root = resolve(import.meta.dirname, "..");
  execFileSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
}
