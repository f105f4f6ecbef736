import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

// Offline checks of what the gateway ships (npm audit needs an advisory service; these need only node_modules):
// every package src/ imports is a declared dependency, the licence of every production package, and the packages
// installed in more than one version. `npm run deps` prints the report; test/unit/dependencies.test.ts holds the
// rules. Where the registry is reachable, `npm audit --omit=dev` adds the known vulnerabilities.

interface PackageJson {
  name: string;
  version: string;
  license?: string | { type: string };
  licenses?: { type: string }[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readJson = (path: string): PackageJson => JSON.parse(readFileSync(path, "utf8")) as PackageJson;
export const manifest = (): PackageJson => readJson(join(PROJECT_ROOT, "package.json"));

/** The packages imported by src/ (bare specifiers, node: built-ins left out), each with a file that imports it. */
export function importedPackages(dir = join(PROJECT_ROOT, "src")): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const path = join(entry.parentPath, entry.name);
    for (const [, specifier] of readFileSync(path, "utf8").matchAll(/(?:^|[^\w-])(?:from|import)\s*\(?\s*"([^".][^"]*)"/gm)) {
      if (specifier!.startsWith("node:") || builtinModules.includes(specifier!)) continue;
      const parts = specifier!.split("/");
      const name = specifier!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
      if (!found.has(name)) found.set(name, path);
    }
  }
  return found;
}

export interface InstalledPackage {
  name: string;
  version: string;
  license: string;
  path: string;
}

/** Every package the production dependencies pull in (installed under node_modules), once per installed copy. */
export function productionPackages(): InstalledPackage[] {
  const seen = new Map<string, InstalledPackage>();
  const visit = (name: string, from: string) => {
    const dir = resolvePackage(name, from);
    if (!dir || seen.has(dir)) return;
    const pkg = readJson(join(dir, "package.json"));
    seen.set(dir, { name, version: pkg.version, license: licenceOf(pkg), path: dir });
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep, dir);
  };
  for (const name of Object.keys(manifest().dependencies ?? {})) visit(name, PROJECT_ROOT);
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

/** Node's lookup: node_modules/<name> in the folder and each folder above it. An optional package not installed: undefined. */
function resolvePackage(name: string, from: string): string | undefined {
  for (let dir = from; dir.startsWith(PROJECT_ROOT); dir = join(dir, "..")) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === PROJECT_ROOT) break;
  }
  return undefined;
}

function licenceOf(pkg: PackageJson): string {
  if (typeof pkg.license === "string") return pkg.license;
  if (pkg.license?.type) return pkg.license.type;
  return pkg.licenses?.map((l) => l.type).join(" OR ") ?? "UNKNOWN";
}

/** Packages installed in more than one version, with the versions. */
export function duplicates(packages: InstalledPackage[]): Map<string, string[]> {
  const versions = new Map<string, Set<string>>();
  for (const p of packages) versions.set(p.name, (versions.get(p.name) ?? new Set()).add(p.version));
  return new Map([...versions].filter(([, v]) => v.size > 1).map(([name, v]) => [name, [...v].sort()]));
}

/** Licences a gateway may ship in its image without obligations beyond attribution (SPDX expressions as packages write them). */
export const PERMISSIVE = ["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "BlueOak-1.0.0", "Unlicense", "CC0-1.0", "Python-2.0", "MIT-0"];

/** Whether an SPDX expression allows shipping under permissive terms (an OR needs one permissive side, an AND all). */
export function isPermissive(expression: string): boolean {
  const clean = expression.replace(/[()]/g, " ").trim();
  if (/\sOR\s/.test(clean)) return clean.split(/\s+OR\s+/).some(isPermissive);
  if (/\sAND\s/.test(clean)) return clean.split(/\s+AND\s+/).every(isPermissive);
  return PERMISSIVE.includes(clean);
}

function report(): void {
  const declared = manifest().dependencies ?? {};
  const undeclared = [...importedPackages()].filter(([name]) => !(name in declared));
  const packages = productionPackages();
  const byLicence = new Map<string, number>();
  for (const p of packages) byLicence.set(p.license, (byLicence.get(p.license) ?? 0) + 1);
  console.log(`Production packages installed: ${packages.length}`);
  console.log(`Licences: ${[...byLicence].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${n}`).join(", ")}`);
  const other = packages.filter((p) => !isPermissive(p.license));
  console.log(other.length ? `Not permissive:\n${other.map((p) => `  ${p.name}@${p.version}: ${p.license}`).join("\n")}` : "Every licence is permissive.");
  const dups = duplicates(packages);
  console.log(dups.size ? `In more than one version:\n${[...dups].map(([n, v]) => `  ${n}: ${v.join(", ")}`).join("\n")}` : "No package in more than one version.");
  console.log(undeclared.length ? `Imported by src/ but not declared:\n${undeclared.map(([n, f]) => `  ${n} (${f})`).join("\n")}` : "Every package src/ imports is declared.");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) report();
