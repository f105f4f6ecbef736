import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveModelFile } from "node-llama-cpp";
import { ConfigError } from "../config/load.js";
import type { GatewayConfig } from "../config/schema.js";

/** The project root (where package.json lives), from src/engine or dist/src/engine alike. */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

type ModelSearch = GatewayConfig["modelSearch"];

/**
 * Resolves a model reference in the documented order: an explicit path or hf: URI; else the first
 * model in each search folder (models/, then ../shared/models/); else the configured hf: download.
 */
export async function resolveModelPath(reference: string | undefined, search: ModelSearch): Promise<string> {
  if (reference?.startsWith("hf:")) return download(reference, search);
  if (reference) {
    const path = resolve(reference);
    if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(`model file not found: ${reference} (resolved to ${path})`);
    return path;
  }
  for (const dir of search.dirs) {
    const found = findModelIn(resolve(PROJECT_ROOT, dir), search.preferred);
    if (found) return found;
  }
  return download(search.download, search);
}

export function modelIdFromPath(path: string): string {
  return basename(path).replace(/\.gguf$/i, "");
}

function findModelIn(dir: string, preferred: readonly string[]): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.toLowerCase().endsWith(".gguf"));
  } catch {
    return undefined;
  }
  const pick = preferred.find((name) => names.includes(name)) ?? names.sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }))[0];
  return pick === undefined ? undefined : resolve(dir, pick);
}

async function download(uri: string, search: ModelSearch): Promise<string> {
  const first = search.dirs[0] ?? "models";
  const directory = isAbsolute(first) ? first : resolve(PROJECT_ROOT, first);
  return resolveModelFile(uri, { directory, cli: true });
}

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(resolve(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}
