import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";

/** A server that accepts connections and never answers: a replica whose process hangs. */
async function silentServer(): Promise<{ server: Server; url: string; connections: () => number }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => void sockets.push(socket));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.on("close", () => sockets.forEach((s) => s.destroy()));
  return { server, url: `http://127.0.0.1:${port}/v1`, connections: () => sockets.length };
}

// The connect timeout bounds the connection only: a busy replica (another gateway) answers with headers when a slot
// takes the request, after its queue, and must not be failed over (and marked down) for being busy.
describe("upstream timeouts", () => {
  let replica: TestGateway;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let front: TestGateway;
  beforeAll(async () => {
    replica = await startTestGateway({ engine: { slots: 1, ctxSize: 512 } }, SYNTHETIC_57M); // ~300 tok/s on one slot
    silent = await silentServer();
    front = await startTestGateway({
      upstream: { connectTimeoutMs: 500, healthCheckIntervalMs: 250 },
      models: [
        { id: "busy", upstreams: [{ url: replica.baseURL, model: "test-model" }] },
        { id: "hung", upstreams: [{ url: silent.url, weight: 1e6 }, { url: replica.baseURL, model: "test-model" }] },
      ],
    });
  });
  afterAll(async () => {
    await front?.close();
    silent?.server.close();
    await replica?.close();
  });

  it("waits in a busy replica's queue longer than the connect timeout, and the replica stays healthy", async () => {
    const body = { model: "busy", prompt: "Once upon a time", max_tokens: 400, ignore_eos: true };
    const started = Date.now();
    const responses = await Promise.all([postJson(front.baseURL, "/completions", body), postJson(front.baseURL, "/completions", body)]);
    const elapsed = Date.now() - started;
    const answers = await Promise.all(responses.map((r) => jsonBody(r)));
    expect(responses.map((r) => r.status), JSON.stringify(answers)).toEqual([200, 200]);
    expect(answers.map((a) => a.usage.completion_tokens)).toEqual([400, 400]);
    expect(elapsed).toBeGreaterThan(2 * 500); // one of them waited for the other's 400 tokens (~1.3 s), past 500 ms
    const metrics = await (await fetch(`${front.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    expect(metrics).toContain(`llm_gateway_upstream_in_flight{model="busy",upstream="${replica.baseURL}",healthy="true"} 0`);
  });

  it("moves a request waiting on a replica that accepts connections but never answers once it fails its health check", async () => {
    const started = Date.now();
    const response = await postJson(front.baseURL, "/chat/completions", { model: "hung", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
    const json = await jsonBody(response);
    expect(response.status, JSON.stringify(json)).toBe(200);
    expect(json.usage.completion_tokens).toBeGreaterThan(0);
    expect(silent.connections()).toBeGreaterThan(0); // it went there first (weight), and waited there
    expect(Date.now() - started).toBeLessThan(10_000); // a health check's timeout, not the request's (600 s)
    const metrics = await (await fetch(`${front.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    expect(metrics).toContain(`llm_gateway_upstream_in_flight{model="hung",upstream="${silent.url}",healthy="false"} 0`);
  });

  it("moves a request off a replica whose queue is full without marking that replica unhealthy", async () => {
    const full = await startTestGateway({ engine: { slots: 1, ctxSize: 512 }, queue: { maxRequests: 0 } }, SYNTHETIC_57M);
    const pair = await startTestGateway({
      upstream: { healthCheckIntervalMs: 60_000 },
      models: [{ id: "pair", upstreams: [{ url: full.baseURL, model: "test-model", weight: 1e6 }, { url: replica.baseURL, model: "test-model" }] }],
    });
    try {
      const controller = new AbortController();
      const blocker = await postJson(full.baseURL, "/completions", { model: "test-model", prompt: "x", max_tokens: 400, ignore_eos: true, stream: true }, { signal: controller.signal });
      expect(blocker.status).toBe(200); // its one slot is taken, and nothing may wait
      const before = replica.models.all()[0]!.stats().generatedTokens;
      const response = await postJson(pair.baseURL, "/completions", { model: "pair", prompt: "Once upon a time", max_tokens: 4, ignore_eos: true });
      expect(response.status, JSON.stringify(await jsonBody(response.clone()))).toBe(200);
      expect(replica.models.all()[0]!.stats().generatedTokens - before).toBe(4); // served by the other replica
      controller.abort();
      const metrics = await (await fetch(`${pair.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
      expect(metrics).toContain(`llm_gateway_upstream_in_flight{model="pair",upstream="${full.baseURL}",healthy="true"} 0`);
    } finally {
      await pair.close();
      await full.close();
    }
  });

  it("gives up on a connection not up within the connect timeout (a TLS handshake that never completes)", async () => {
    const tls = silent.url.replace("http:", "https:");
    const lonely = await startTestGateway({ upstream: { connectTimeoutMs: 400, healthCheckIntervalMs: 60_000 }, models: [{ id: "tls", upstreams: [{ url: tls }] }] });
    try {
      const started = Date.now();
      const response = await postJson(lonely.baseURL, "/completions", { model: "tls", prompt: "x", max_tokens: 2 });
      const json = await jsonBody(response);
      expect(response.status).toBe(503);
      expect(json.error).toMatchObject({ code: "upstream_unavailable", message: expect.stringContaining("no connection within 400 ms") });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await lonely.close();
    }
  });
});
