import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/load.js";
import { modelIdFromPath, resolveModelPath } from "../../src/engine/model-file.js";

function folderWith(...files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "models-"));
  for (const file of files) writeFileSync(join(dir, file), "");
  return dir;
}

const search = (dirs: string[], preferred: string[] = []) => ({ dirs, preferred, download: "hf:unused/unused" });

describe("model resolution", () => {
  it("takes an explicit path first", async () => {
    const dir = folderWith("mine.gguf", "other.gguf");
    expect(await resolveModelPath(join(dir, "mine.gguf"), search([folderWith("x.gguf")]))).toBe(join(dir, "mine.gguf"));
  });

  it("fails at start with the path when an explicit model file is missing", async () => {
    await expect(resolveModelPath("/nonexistent/model.gguf", search([]))).rejects.toThrow(ConfigError);
    await expect(resolveModelPath("/nonexistent/model.gguf", search([]))).rejects.toThrow(/model file not found: \/nonexistent\/model\.gguf/);
  });

  it("searches the folders in order and skips empty or missing ones", async () => {
    const empty = folderWith("notes.txt");
    const second = folderWith("b.gguf");
    const third = folderWith("a.gguf");
    expect(await resolveModelPath(undefined, search(["/nonexistent", empty, second, third]))).toBe(join(second, "b.gguf"));
  });

  it("prefers a named file inside a folder, else the first .gguf by name, ignoring case", async () => {
    const dir = folderWith("Zeta.gguf", "alpha.GGUF", "stories260K.gguf");
    expect(await resolveModelPath(undefined, search([dir], ["stories260K.gguf"]))).toBe(join(dir, "stories260K.gguf"));
    expect(await resolveModelPath(undefined, search([dir]))).toBe(join(dir, "alpha.GGUF"));
  });

  it("names a model after its file", () => {
    expect(modelIdFromPath("/models/Qwen2.5-0.5B-Instruct-Q8_0.gguf")).toBe("Qwen2.5-0.5B-Instruct-Q8_0");
  });
});
