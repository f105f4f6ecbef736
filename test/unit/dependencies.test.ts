import { describe, expect, it } from "vitest";
import { duplicates, importedPackages, isPermissive, manifest, productionPackages } from "../tools/dependencies.js";

// What the gateway ships, checked offline from node_modules (test/tools/dependencies.ts; `npm run deps` prints it).
describe("dependencies", () => {
  it("declares every package src/ imports as a production dependency (none only there because another package brought it)", () => {
    const imported = importedPackages();
    expect(imported.has("fastify")).toBe(true);
    expect(imported.has("@huggingface/jinja")).toBe(true);
    const declared = manifest().dependencies ?? {};
    expect([...imported.keys()].filter((name) => !(name in declared))).toEqual([]);
  });

  it("ships only permissively licensed production packages", () => {
    const packages = productionPackages();
    expect(packages.length).toBeGreaterThan(50);
    expect(packages.filter((p) => !isPermissive(p.license)).map((p) => `${p.name}@${p.version}: ${p.license}`)).toEqual([]);
  });

  it("reads licence expressions as SPDX does", () => {
    expect(isPermissive("(BSD-2-Clause OR MIT OR Apache-2.0)")).toBe(true);
    expect(isPermissive("GPL-3.0 OR MIT")).toBe(true);
    expect(isPermissive("GPL-3.0")).toBe(false);
    expect(isPermissive("MIT AND GPL-2.0")).toBe(false);
    expect(isPermissive("UNKNOWN")).toBe(false);
  });

  it("installs the packages the gateway itself calls in one version each", () => {
    const twice = duplicates(productionPackages());
    expect([...twice.keys()].filter((name) => name in (manifest().dependencies ?? {}))).toEqual([]);
  });
});
