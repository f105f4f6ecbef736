// The npm registry mirror on the development machines lacks node-llama-cpp's macOS, Windows and
// RISC-V binary packages, so `npm install` there leaves them out of package-lock.json, and `npm ci`
// then refuses the lockfile. Run this after `npm install` to put them back (they are optional and
// platform-gated, so Linux installs skip them and other platforms fetch them from the real registry).
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const llamaVersion = lock.packages["node_modules/node-llama-cpp"].version;
const platforms = {
  "linux-riscv64": ["linux", "riscv64"],
  "mac-arm64-metal": ["darwin", "arm64"],
  "mac-x64": ["darwin", "x64"],
  "win-arm64": ["win32", "arm64"],
  "win-x64": ["win32", "x64"],
  "win-x64-cuda": ["win32", "x64"],
  "win-x64-cuda-ext": ["win32", "x64"],
  "win-x64-vulkan": ["win32", "x64"],
};
for (const [name, [os, cpu]] of Object.entries(platforms)) {
  lock.packages[`node_modules/@node-llama-cpp/${name}`] ??= {
    version: llamaVersion,
    cpu: [cpu],
    license: "MIT",
    optional: true,
    os: [os],
    engines: { node: ">=20.0.0" },
  };
}
const [root, ...rest] = Object.keys(lock.packages);
lock.packages = Object.fromEntries([root, ...rest.sort()].map((key) => [key, lock.packages[key]]));
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
