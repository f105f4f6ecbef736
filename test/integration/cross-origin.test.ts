import { once } from "node:events";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { OriginPolicy } from "../../src/auth/origin-policy.js";

const PAGE = "http://localhost:5173";
const SITE = "https://evil.example";

describe("origin patterns", () => {
  it("matches listed origins, * wildcards and * alone", () => {
    const local = new OriginPolicy("http://localhost:*, https://*.example.com");
    expect(local.allows("http://localhost:5173")).toBe(true);
    expect(local.allows("https://chat.example.com")).toBe(true);
    expect(local.allows("http://localhost.evil.example")).toBe(false); // the wildcard stands for the port, after "localhost:"
    expect(local.allows("https://example.com.evil")).toBe(false);
    expect(new OriginPolicy("*").allows(SITE)).toBe(true);
    expect(new OriginPolicy("").allows(PAGE)).toBe(false);
  });
});

describe("CORS and the WebSocket Origin check (default: local origins)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ auth: { keys: [{ name: "web", key: "sk-web-0123456789" }] }, rateLimit: { rpm: 1000 } });
  });
  afterAll(() => gw.close());

  const preflight = (origin: string, path = "/chat/completions") =>
    fetch(`${gw.baseURL}${path}`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-stainless-os,anthropic-version" } });

  it("answers a preflight from an allowed origin, with the requested headers, before any API key", async () => {
    const response = await preflight(PAGE);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(PAGE);
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")).toBe("authorization,content-type,x-stainless-os,anthropic-version");
    for (const path of ["/completions", "/embeddings", "/models"]) expect((await preflight(PAGE, path)).headers.get("access-control-allow-origin")).toBe(PAGE);
  });

  it("gives no CORS headers to another origin (the browser blocks the call)", async () => {
    const response = await preflight(SITE);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const post = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", max_tokens: 1 }, { headers: { "content-type": "application/json", origin: SITE, authorization: "Bearer sk-web-0123456789" } });
    expect(post.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("exposes the request id and rate-limit headers on answers, streams and errors", async () => {
    const headers = { "content-type": "application/json", origin: PAGE, authorization: "Bearer sk-web-0123456789" };
    const stream = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 2, stream: true }, { headers });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.headers.get("access-control-allow-origin")).toBe(PAGE);
    const exposed = stream.headers.get("access-control-expose-headers")!;
    for (const name of ["x-request-id", "retry-after", "x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"]) expect(exposed).toContain(name);
    await stream.text();
    const unauthorized = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x" }, { headers: { ...headers, authorization: "Bearer wrong" } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("access-control-allow-origin")).toBe(PAGE); // so the page can read the error
  });

  it("serves requests without an Origin as before", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", max_tokens: 1 }, { headers: { "content-type": "application/json", authorization: "Bearer sk-web-0123456789" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect((await jsonBody(response)).choices).toHaveLength(1);
  });

  const openSocket = async (origin?: string) => {
    const socket = new WebSocket(`${gw.baseURL.replace(/^http/, "ws")}/ws?api_key=sk-web-0123456789`, origin ? { origin } : {});
    const [outcome] = await Promise.race([once(socket, "open").then(() => ["open"]), once(socket, "unexpected-response").then(([, response]) => [response.statusCode])]);
    socket.terminate();
    return outcome;
  };

  it("opens /v1/ws for an allowed origin, its own origin and clients without one; refuses others with 403", async () => {
    expect(await openSocket(PAGE)).toBe("open");
    expect(await openSocket(gw.baseURL.replace(/\/v1$/, ""))).toBe("open"); // the playground's own page
    expect(await openSocket()).toBe("open");
    expect(await openSocket(SITE)).toBe(403);
  });
});
