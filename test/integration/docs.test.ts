import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { startTestGateway, STORIES_260K, type TestGateway } from "../helpers/gateway.js";

// The README and docs/ as a newcomer reads them: every link leads somewhere, and every curl line runs as written
// against a real gateway on the story model (its address swapped for the test's).
const PAGES = ["README.md", ...readdirSync(join(PROJECT_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const text = (page: string) => readFileSync(join(PROJECT_ROOT, page), "utf8");

/** Shell words of one command: single and double quotes, backslash-newline continuations. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  for (const match of command.replace(/\\\n/g, " ").matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(match[1] ?? match[2] ?? match[3]!);
  return words;
}

/** Each curl command in a page's sh code blocks (continued lines joined), with the page it came from. */
function curlCommands(): { page: string; command: string }[] {
  const found: { page: string; command: string }[] = [];
  for (const page of PAGES)
    for (const [, block] of text(page).matchAll(/```sh\n([\s\S]*?)```/g))
      for (const command of block!.replace(/\\\n/g, " ").replace(/'\{[\s\S]*?\}'/g, (body) => body.replace(/\n/g, " ")).split("\n"))
        if (command.trim().startsWith("curl ")) found.push({ page, command: command.trim() });
  return found;
}

/** The request a curl command makes (the flags these pages use: -N, -s, -H, -d, -X). */
function asRequest(command: string, base: string): { url: string; init: RequestInit } {
  const words = shellWords(command).slice(1);
  const headers: Record<string, string> = {};
  let url = "";
  let body: string | undefined;
  let method: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "-H") {
      const [name, ...value] = words[++i]!.split(":");
      headers[name!.trim().toLowerCase()] = value.join(":").trim();
    } else if (word === "-d" || word === "--data") body = words[++i];
    else if (word === "-X") method = words[++i];
    else if (word.startsWith("http")) url = word.replace(/^https?:\/\/127\.0\.0\.1:8080/, base);
    else if (!["-N", "-s", "-sS"].includes(word)) throw new Error(`curl flag ${word} is not understood by this test: ${command}`);
  }
  return { url, init: { method: method ?? (body ? "POST" : "GET"), headers, ...(body !== undefined ? { body } : {}) } };
}

describe("the README and docs/", () => {
  it("link only to files that exist", () => {
    const broken: string[] = [];
    for (const page of PAGES)
      for (const [, target] of text(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // http(s): and mailto: links
        if (!existsSync(resolve(dirname(join(PROJECT_ROOT, page)), target!))) broken.push(`${page}: ${target}`);
      }
    expect(broken).toEqual([]);
  });

  it("keep the README a front page (at most 250 lines) that links every page of docs/", () => {
    const readme = text("README.md");
    expect(readme.split("\n").length).toBeLessThanOrEqual(250);
    for (const page of PAGES.filter((p) => p.startsWith("docs/"))) expect(readme, page).toContain(`](${page})`);
  });

  describe("every curl command they show", () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({ engine: { slots: 2, ctxSize: 512 }, models: [{ id: "stories260K", path: STORIES_260K }] });
    });
    afterAll(() => gw.close());

    it("answers 2xx on the story model as written", async () => {
      const commands = curlCommands();
      expect(commands.length).toBeGreaterThanOrEqual(8);
      const base = gw.baseURL.replace(/\/v1$/, "");
      const failures: string[] = [];
      for (const { page, command } of commands) {
        const { url, init } = asRequest(command, base);
        const response = await fetch(url, init);
        const body = await response.text();
        if (response.status >= 300) failures.push(`${page}: ${command.slice(0, 100)} → ${response.status} ${body.slice(0, 200)}`);
      }
      expect(failures).toEqual([]);
    });
  });
});
