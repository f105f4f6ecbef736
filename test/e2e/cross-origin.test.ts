import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

const KEY = "sk-frontend-0123456789";

/** A frontend's own origin: a second local HTTP server serving an empty page. */
async function pageServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>frontend</title>"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as { port: number }).port };
}

// What a browser does with a page on another origin: real Chromium, real CORS and Origin enforcement.
describe("a frontend on another origin, in headless Chromium", () => {
  let gw: TestGateway;
  let frontend: Awaited<ReturnType<typeof pageServer>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // 127.0.0.1 on any port is allowed; the same server reached as "localhost" is another origin, not allowed.
    gw = await startTestGateway({ http: { corsOrigins: "http://127.0.0.1:*" }, auth: { keys: [{ name: "frontend", key: KEY }] }, rateLimit: { rpm: 1000 } });
    frontend = await pageServer();
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    frontend?.server.close();
    await gw?.close();
  });

  const streamChat = (api: string, model: string, key: string) =>
    page.evaluate(
      async ({ api, model, key }) => {
        try {
          const response = await fetch(`${api}/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${key}`, "x-stainless-lang": "js" },
            body: JSON.stringify({ model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8, stream: true }),
          });
          const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
          let text = "";
          for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
          return { status: response.status, requestId: response.headers.get("x-request-id"), remaining: response.headers.get("x-ratelimit-remaining-requests"), text };
        } catch (error) {
          return { blocked: String(error) };
        }
      },
      { api, model, key },
    );

  const openSocket = (url: string) =>
    page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(url);
          socket.onopen = () => (socket.close(), resolve("open"));
          socket.onerror = () => resolve("refused");
        }),
      url,
    );

  it("streams a chat completion from an allowed origin and reads the request id and a rate-limit header", async () => {
    await page.goto(`http://127.0.0.1:${frontend.port}/`);
    const result = await streamChat(gw.baseURL, gw.model, KEY);
    expect(result).toMatchObject({ status: 200 });
    expect(result.requestId).toBeTruthy();
    expect(Number(result.remaining)).toBeGreaterThan(0);
    expect(result.text?.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(await openSocket(`${gw.baseURL.replace(/^http/, "ws")}/ws?api_key=${KEY}`)).toBe("open");
  });

  it("is blocked by the browser from an origin that is not allowed, fetch and WebSocket alike", async () => {
    await page.goto(`http://localhost:${frontend.port}/`);
    const result = await streamChat(gw.baseURL, gw.model, KEY);
    expect(result.blocked).toMatch(/Failed to fetch/);
    expect(await openSocket(`${gw.baseURL.replace(/^http/, "ws")}/ws?api_key=${KEY}`)).toBe("refused");
  });
});
