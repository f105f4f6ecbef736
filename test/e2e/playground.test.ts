import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";
import { startPrefixProxy } from "../helpers/prefix-proxy.js";

const ARTIFACTS = resolve(PROJECT_ROOT, "test-results");
const ALICE = "sk-alice-0123456789";
const CAROL = "sk-carol-0123456789"; // one request per minute

describe("the playground in headless Chromium, behind a path prefix", () => {
  let gw: TestGateway;
  let proxy: Awaited<ReturnType<typeof startPrefixProxy>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    gw = await startTestGateway(
      { engine: { slots: 1, ctxSize: 2048 }, auth: { keys: [{ name: "alice", key: ALICE }, { name: "carol", key: CAROL, limits: { rpm: 1 } }] } },
      SYNTHETIC_57M,
    );
    proxy = await startPrefixProxy("/llm", gw.baseURL.replace(/\/v1$/, ""));
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    page = await browser.newPage();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await gw?.close();
  });

  const assistantText = () => page.locator(".turn .text").last().textContent();

  async function setKey(key: string) {
    await page.getByLabel("API key").fill(key);
    await page.getByLabel("API key").press("Tab"); // "change" fires on leaving the field
  }

  it("asks for a key and shows the error for a bad one", async () => {
    await page.goto(proxy.url); // no trailing slash: the page still finds the API under the prefix
    await expect(page.getByLabel("API key").isVisible()).resolves.toBe(true);
    await page.getByRole("alert").first().waitFor(); // no key yet: listing models failed
    await setKey("sk-wrong-0000000000");
    await page.getByText("Incorrect API key provided.").last().waitFor();
  });

  it("streams an answer in several steps, keyboard only, with its time to first token and tokens/s", async () => {
    await setKey(ALICE);
    await page.locator("#model option").first().waitFor({ state: "attached" });
    expect(await page.getByLabel("Model").inputValue()).toBe("test-model");
    for (const label of ["System prompt", "Temperature", "Max tokens", "Message"]) await expect(page.getByLabel(label).count()).resolves.toBe(1);
    await page.getByLabel("Temperature").fill("0"); // greedy: the same answer every run
    await page.getByLabel("Max tokens").fill("150");
    await page.getByLabel("Message").fill("Tell me a story");
    await page.getByLabel("Message").press("Enter");
    const seen = new Set<number>();
    while (!(await page.locator(".stats").last().textContent())) {
      seen.add((await assistantText())?.length ?? 0);
      await page.waitForTimeout(15);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3); // the text grew while it streamed
    expect(await page.locator(".stats").last().textContent()).toMatch(/time to first token \d+ ms · \d+ tokens · [\d.]+ tokens\/s/);
    await page.screenshot({ path: resolve(ARTIFACTS, "playground.png"), fullPage: true });
  });

  it("stops an answer mid-stream and frees the slot", async () => {
    const engine = gw.models.all()[0]!;
    await page.getByLabel("Max tokens").fill("1900");
    await page.getByLabel("Message").fill("Another one");
    await page.getByRole("button", { name: "Send" }).click();
    while (((await assistantText())?.length ?? 0) < 20) await page.waitForTimeout(15);
    const before = engine.stats().generatedTokens;
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByText("Stopped.").waitFor();
    await waitForIdleSlots(gw);
    expect(engine.stats().generatedTokens - before).toBeLessThan(400);
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metricValue(metrics, "llm_gateway_slots_busy", { model: "test-model" })).toBe(0);
    const followUp = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hi", max_tokens: 3, ignore_eos: true }, { headers: { "content-type": "application/json", authorization: `Bearer ${ALICE}` } });
    expect((await jsonBody(followUp)).usage.completion_tokens).toBe(3);
  });

  it("shows a rate-limit error with its retry time", async () => {
    await setKey(CAROL);
    await page.getByLabel("Max tokens").fill("5");
    for (const text of ["one", "two"]) {
      await page.getByLabel("Message").fill(text);
      await page.getByLabel("Message").press("Enter");
      await page.getByRole("button", { name: "Send" }).and(page.locator(":enabled")).waitFor();
    }
    await page.getByText(/Rate limit reached .* \(retry in \d+(\.\d)? s\)/).waitFor();
    await page.screenshot({ path: resolve(ARTIFACTS, "playground-rate-limited.png"), fullPage: true });
  });
});
