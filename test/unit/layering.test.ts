import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

// The house's one direction, from the process entry down to the engine: every import in src/ points to its own
// area or one below it, and no chain of imports comes back to where it started (type-only imports included:
// a circle of types is a circle of ideas).
const LAYERS = ["errors", "config", "engine", "upstream", "router", "observability", "auth", "ratelimit", "api", "playground", "server", "cli"];

const SRC = join(PROJECT_ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Each file's relative imports (static, dynamic and type-only), as paths of .ts files under src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => normalize(join(dirname(file), m[1]!)).replace(/\.js$/, ".ts"));
    graph.set(relative(SRC, file), targets.map((t) => relative(SRC, t)));
  }
  return graph;
}

/** A file's area: its top folder under src/, or the file's own name for the files at src/'s root. */
const area = (file: string) => file.split("/")[0]!.replace(/\.ts$/, "");

describe("layering of src/", () => {
  const graph = importGraph();

  it("reads the imports of every file", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("server/app.ts")).toContain("api/shared/lifecycle.ts");
  });

  it("imports only from its own area or one below it", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const from = LAYERS.indexOf(area(file));
      expect(from, `${file}: its area is not in LAYERS`).toBeGreaterThanOrEqual(0);
      for (const target of targets) if (LAYERS.indexOf(area(target)) > from) upward.push(`${file} -> ${target}`);
    }
    expect(upward).toEqual([]);
  });

  it("keeps the API's shared code below its endpoints", () => {
    const endpoints = (file: string) => file.startsWith("api/") && !file.startsWith("api/shared/") && file !== "api/context.ts";
    const upward = [...graph].flatMap(([file, targets]) => (file.startsWith("api/shared/") ? targets.filter(endpoints).map((t) => `${file} -> ${t}`) : []));
    expect(upward).toEqual([]);
  });

  it("has no circle of imports", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === "open") circles.push([...path.slice(path.indexOf(target)), target].join(" -> "));
        else if (!state.has(target)) visit(target, [...path, target]);
      }
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect(circles).toEqual([]);
  });
});
