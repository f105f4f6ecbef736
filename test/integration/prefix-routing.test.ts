import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";
import { freePort } from "../helpers/redis.js";
import { TestDnsServer } from "../helpers/dns-server.js";

// Three replica gateways on 127.0.0.2-4 (one port, as the pods behind a headless Service), found through a DNS server
// of the test's own, behind a front gateway that routes by prefix. The replicas serve the 57M model (~300 tok/s here):
// a flood's requests must all be in flight at once for the load bound to apply, so none may finish while the test is
// still sending the rest (with stories260K one could, on a busy machine, and its replica then took a fifth).
describe("prefix-aware routing over replicas discovered by DNS", () => {
  const addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
  let port: number;
  let dns: TestDnsServer;
  let replicas: TestGateway[];
  let front: TestGateway;
  const generated = () => replicas.map((r) => r.models.all()[0]!.stats().generatedTokens);

  beforeAll(async () => {
    port = await freePort();
    dns = await TestDnsServer.start();
    dns.records.set("llm-engine.test.svc", addresses);
    replicas = await Promise.all(addresses.map((host) => startTestGateway({ server: { host, port }, engine: { slots: 2, ctxSize: 1024 } }, SYNTHETIC_57M)));
    front = await startTestGateway({
      upstream: { dnsServers: [dns.address], dnsRefreshMs: 100, loadBound: 0.25, healthCheckIntervalMs: 60_000, connectTimeoutMs: 2_000 },
      models: [{ id: "pool", upstreams: [{ url: `dns+http://llm-engine.test.svc:${port}/v1`, model: "test-model" }] }],
    });
  });
  afterAll(async () => {
    await front?.close();
    await Promise.all((replicas ?? []).map((r) => r.close().catch(() => {})));
    dns?.close();
  });

  /** Sends one request through the front and says which replica generated it (by their token counters). */
  async function served(body: object, headers: Record<string, string> = {}): Promise<{ replica: number; usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } }; text: string }> {
    const before = generated();
    const response = await postJson(front.baseURL, "/chat/completions", { model: "pool", max_tokens: 12, temperature: 0, ...body }, { headers: { "content-type": "application/json", ...headers } });
    const json = await jsonBody(response);
    expect(response.status, JSON.stringify(json)).toBe(200);
    const after = generated();
    const replica = after.findIndex((count, i) => count > before[i]!);
    return { replica, usage: json.usage, text: json.choices[0].message.content };
  }

  it("keeps each conversation on one replica across turns, where its prefix is cached, and spreads conversations", async () => {
    const homes = new Set<number>();
    for (let c = 0; c < 8; c++) {
      const messages = [
        { role: "system", content: "You tell short stories." },
        { role: "user", content: `Conversation ${c}: tell me a story about animal number ${c * 7}.` },
      ];
      const first = await served({ messages });
      homes.add(first.replica);
      messages.push({ role: "assistant", content: first.text }, { role: "user", content: "What happened next?" });
      const second = await served({ messages });
      expect(second.replica).toBe(first.replica);
      expect(second.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(first.usage.prompt_tokens / 2);
    }
    expect(homes.size).toBeGreaterThan(1);
    const metrics = await (await fetch(`${front.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    expect(metrics).toMatch(/llm_gateway_upstream_prompt_tokens_total\{model="pool",source="cached"\} [1-9]/);
    expect(metrics).toContain(`llm_gateway_upstream_in_flight{model="pool",upstream="http://127.0.0.2:${port}/v1",healthy="true"} 0`);
  });

  it("pins a session (x-session-id) to one replica, and spills a flood of it over others within the load bound", async () => {
    const one = await served({ messages: [{ role: "user", content: "Hello" }] }, { "x-session-id": "session-a" });
    const again = await served({ messages: [{ role: "user", content: "Something else entirely" }] }, { "x-session-id": "session-a" });
    expect(again.replica).toBe(one.replica);

    const before = generated();
    const flood = 9;
    const tokens = 120;
    const responses = await Promise.all(
      Array.from({ length: flood }, () =>
        postJson(front.baseURL, "/chat/completions", { model: "pool", messages: [{ role: "user", content: "Hello" }], max_tokens: tokens, ignore_eos: true }, { headers: { "content-type": "application/json", "x-session-id": "session-a" } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(flood).fill(200));
    const perReplica = generated().map((count, i) => Math.round((count - before[i]!) / tokens));
    expect(perReplica.reduce((a, b) => a + b, 0)).toBe(flood);
    // No replica above (1 + ε) × the average in flight: ceil(1.25 × 9 / 3) = 4; the session's own replica takes the most.
    expect(Math.max(...perReplica)).toBeLessThanOrEqual(4);
    expect(perReplica.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(perReplica[one.replica]).toBe(Math.max(...perReplica));
  });

  it("picks up a replica added to the DNS answer, and drops one removed", async () => {
    const pool = await startTestGateway({
      upstream: { dnsServers: [dns.address], dnsRefreshMs: 100, healthCheckIntervalMs: 60_000 },
      models: [{ id: "pool", upstreams: [{ url: `dns+http://scaling.test.svc:${port}/v1`, model: "test-model" }] }],
    });
    try {
      dns.records.set("scaling.test.svc", ["127.0.0.2"]);
      await new Promise((r) => setTimeout(r, 300));
      const spread = async () => {
        const before = generated();
        for (let c = 0; c < 12; c++) {
          const response = await postJson(pool.baseURL, "/completions", { model: "pool", prompt: `Story ${c}: once upon a time`, max_tokens: 2 });
          expect(response.status).toBe(200);
        }
        return generated().map((count, i) => count > before[i]!);
      };
      expect(await spread()).toEqual([true, false, false]);
      dns.records.set("scaling.test.svc", ["127.0.0.2", "127.0.0.3"]);
      await new Promise((r) => setTimeout(r, 400));
      expect(await spread()).toEqual([true, true, false]);
      dns.records.set("scaling.test.svc", ["127.0.0.3"]);
      await new Promise((r) => setTimeout(r, 400));
      expect(await spread()).toEqual([false, true, false]);
    } finally {
      await pool.close();
    }
  });

  it("moves a conversation whose replica died to another one before the first byte", async () => {
    const messages = [{ role: "user", content: "A story about a lighthouse keeper, please." }];
    const first = await served({ messages });
    await replicas[first.replica]!.close(); // still in the DNS answer: the front finds out by trying
    const moved = await served({ messages });
    expect(moved.replica).not.toBe(first.replica);
    expect(moved.replica).toBeGreaterThanOrEqual(0);
    // And it stays where it moved.
    expect((await served({ messages })).replica).toBe(moved.replica);
  });
});
