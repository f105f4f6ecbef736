import { createServer, request as httpRequest, type Server } from "node:http";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, sseData, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";

/**
 * A relay in front of a gateway that closes keep-alive connections without notice, as llama-server's HTTP
 * library does: after a few requests, and after a short idle time.
 */
async function closingRelay(target: URL): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const served = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    requests++;
    const count = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, count);
    if (count === 3) res.on("finish", () => req.socket.destroy());
    // A connection of its own per request: only the gateway-to-relay hop is under test.
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 40;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/v1`, requests: () => requests };
}

describe("upstream connections that the server closes (keep-alive races)", () => {
  let upstream: TestGateway;
  let front: TestGateway;
  let relay: Awaited<ReturnType<typeof closingRelay>>;
  beforeAll(async () => {
    upstream = await startTestGateway({ engine: { slots: 4, ctxSize: 256 } });
    relay = await closingRelay(new URL(upstream.baseURL));
    front = await startTestGateway({ upstream: { healthCheckIntervalMs: 60_000 }, models: [{ id: "remote", upstreams: [{ url: relay.url, model: "test-model" }] }] });
  });
  afterAll(async () => {
    await front?.close();
    relay?.server.close();
    await upstream?.close();
  });

  it("loses none of 500 streamed chat requests, retrying a request that met a closed connection before any byte", async () => {
    const failures: string[] = [];
    let done = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, client) => {
        for (let i = 0; i < 125; i++) {
          const response = await postJson(front.baseURL, "/chat/completions", { model: "remote", messages: [{ role: "user", content: `Story ${client}-${i}` }], max_tokens: 4, stream: true });
          const text = await response.text();
          if (response.status !== 200 || !text.trimEnd().endsWith("data: [DONE]")) failures.push(`${response.status}: ${text.slice(0, 160)}`);
          else done++;
          await new Promise((r) => setTimeout(r, (client * 13 + i * 7) % 45)); // idle gaps around the server's keep-alive timeout
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(done).toBe(500);
    expect(relay.requests()).toBe(500); // the server saw each request once: a retried one had never reached it
    const metrics = await (await fetch(front.baseURL.replace(/\/v1$/, "/metrics"))).text();
    expect(metricValue(metrics, "llm_gateway_upstream_retries_total", { model: "remote" })).toBeGreaterThan(0); // the race happened, and was met
  });

  it("does not retry a request the upstream read and then reset: the client gets its 503, the upstream saw it once", async () => {
    let seen = 0;
    const resetting = createServer((req) => {
      req.resume();
      req.on("end", () => {
        seen++;
        req.socket.destroy();
      });
    });
    resetting.listen(0, "127.0.0.1");
    await once(resetting, "listening");
    const { port } = resetting.address() as { port: number };
    const gw = await startTestGateway({ upstream: { healthCheckIntervalMs: 60_000 }, models: [{ id: "flaky", upstreams: [{ url: `http://127.0.0.1:${port}/v1` }] }] });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await postJson(gw.baseURL, "/chat/completions", { model: "flaky", messages: [{ role: "user", content: "Hi" }], max_tokens: 4, stream: true });
        expect(response.status).toBe(503);
        expect((await jsonBody(response)).error.code).toBe("upstream_unavailable");
      }
      expect(seen).toBe(3);
    } finally {
      await gw.close();
      resetting.close();
    }
  });

  it("streams through the relay what the upstream sends", async () => {
    const body = { messages: [{ role: "user", content: "Once" }], max_tokens: 12, temperature: 0, seed: 1, stream: true };
    const viaFront = sseData(await (await postJson(front.baseURL, "/chat/completions", { ...body, model: "remote" })).text());
    const direct = sseData(await (await postJson(upstream.baseURL, "/chat/completions", { ...body, model: "test-model" })).text());
    const text = (frames: string[]) => frames.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join("");
    expect(text(viaFront)).toBe(text(direct));
  });
});
