import { execFileSync } from "node:child_process";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

// llama.cpp's corpus of real models' chat templates ships inside node-llama-cpp's npm package, in the git bundle
// of its llama.cpp sources: read with git, no network.
const BUNDLE = resolve(PROJECT_ROOT, "node_modules/node-llama-cpp/llama/gitRelease.bundle");

/** Every template of llama.cpp's models/templates, by name (the file name without .jinja). */
export function templateCorpus(): { name: string; source: string }[] {
  const repo = join(tmpdir(), `llm-gateway-templates-${statSync(BUNDLE).size}`);
  if (!existsSync(join(repo, "HEAD"))) {
    // Test files run side by side: each clones on its own and the first rename wins.
    const mine = `${repo}-${process.pid}`;
    execFileSync("git", ["clone", "--quiet", "--bare", BUNDLE, mine]);
    try {
      renameSync(mine, repo);
    } catch {
      rmSync(mine, { recursive: true, force: true });
    }
  }
  const names = execFileSync("git", ["-C", repo, "ls-tree", "--name-only", "HEAD", "models/templates/"]).toString().trim().split("\n").filter((n) => n.endsWith(".jinja"));
  return names.map((path) => ({ name: path.split("/").pop()!.replace(/\.jinja$/, ""), source: execFileSync("git", ["-C", repo, "show", `HEAD:${path}`]).toString() }));
}
