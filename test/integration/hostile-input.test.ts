import { mkdirSync, readdirSync, statSync, existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids } from "../../bench/process-memory.js";
import { quantile } from "../../bench/stats.js";
import { jsonBody, postJson, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";

// One valid key tries to take the gateway down or stall the other tenants. Every attack gets a clear 4xx (or is
// served within its budget), the gateway keeps serving, and the other key's small chats stay fast meanwhile.
const ALICE = "sk-alice-hostile";
const MALLORY = "sk-mallory-hostile";
const COUNTED = "sk-counted-hostile";
const DEAD_PROCESS_DIR = join(tmpdir(), "llm-gateway-999999-left-by-a-crash");

/** JSON text of an object nested `depth` deep (JSON.stringify itself would overflow the stack). */
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

describe("hostile input from one key (stories260K, two keys)", () => {
  let gw: TestGateway;
  /** A POST as `key`: paths under /v1 by default; llama-server's /tokenize and /apply-template sit at the root. */
  const as = (key: string, path: string, body: unknown, root = false) =>
    postJson(root ? gw.baseURL.replace(/\/v1$/, "") : gw.baseURL, path, body, { headers: { "content-type": "application/json", authorization: `Bearer ${key}` } });
  const chat = (key: string, body: object = {}) => as(key, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 4, ...body });

  /** Alice's small chats while `attack` runs: their latencies (ms), every one answered 200. */
  async function aliceDuring(attack: () => Promise<unknown>): Promise<number[]> {
    let attacking = true;
    const running = attack().finally(() => (attacking = false));
    const latencies: number[] = [];
    while (attacking || latencies.length < 5) {
      const started = performance.now();
      const response = await chat(ALICE);
      expect(response.status).toBe(200);
      latencies.push(performance.now() - started);
    }
    await running;
    return latencies;
  }

  beforeAll(async () => {
    mkdirSync(DEAD_PROCESS_DIR, { recursive: true });
    gw = await startTestGateway({
      auth: { apiKeys: `alice:${ALICE},mallory:${MALLORY}`, keys: [{ name: "counted", key: COUNTED, limits: { rpm: 2 } }] },
      engine: { slots: 2, ctxSize: 1024 },
      request: { maxTokenizeChars: 262_144, maxEmbeddingTokens: 4_096, maxMessages: 512 },
      http: { requestTimeoutMs: 1_000, headersTimeoutMs: 1_000 },
    });
  });
  afterAll(() => gw.close());

  it("refuses a body nested 100,000 deep with a 400 naming the field, on every route, and a later engine crash does not end the gateway", async () => {
    const deep = nested(100_000);
    const chatStart = JSON.stringify({ model: gw.model, messages: [{ role: "user", content: "Hi" }] }).slice(0, -1);
    for (const [path, body] of [
      ["/chat/completions", `${chatStart},"chat_template_kwargs":${deep}}`],
      ["/apply-template", `${chatStart},"chat_template_kwargs":${deep}}`],
      ["/responses", `{"model":"${gw.model}","input":"Hi","text":{"format":{"type":"json_schema","name":"x","schema":${deep}}}}`],
    ] as const) {
      const response = await as(MALLORY, path, body, path === "/apply-template");
      expect(response.status, path).toBe(400);
      expect((await jsonBody(response)).error.message).toContain("levels deep");
    }
    // The engine process dies (any native crash): its requests fail, the gateway lives and the engine comes back.
    for (const pid of childPids(process.pid)) process.kill(pid, "SIGSEGV");
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/health`)).status).toBe(200);
    expect((await chat(ALICE)).status).toBe(200);
    const metrics = await (await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    expect(metricValue(metrics, "llm_gateway_unhandled_errors_total")).toBe(0);
  });

  it("refuses a grammar of 32,000 nested groups (a stack overflow in llama.cpp's parser) before it reaches the engine", async () => {
    const grammar = `root ::= ${"(".repeat(32_000)}"a"${")".repeat(32_000)}`;
    const response = await chat(MALLORY, { grammar });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error.param).toBe("grammar");
    expect((await chat(ALICE)).status).toBe(200);
  });

  it("refuses template arguments that would replace the conversation, and more messages than request.maxMessages", async () => {
    const kwargs = await chat(MALLORY, { chat_template_kwargs: { messages: [{ role: "user", content: "other" }] } });
    expect(kwargs.status).toBe(400);
    expect((await jsonBody(kwargs)).error.param).toBe("chat_template_kwargs.messages");
    const many = Array.from({ length: 513 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: "x" }));
    const response = await chat(MALLORY, { messages: many });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error.code).toBe("too_many_messages");
    expect((await as(MALLORY, "/responses", { model: gw.model, input: many.map((m) => ({ ...m, type: "message" })), truncation: "auto" })).status).toBe(400);
  });

  it("serves /tokenize with pieces for the largest text allowed while the other key's chats stay fast; larger is a 413", async () => {
    const text = "Once upon a time, a cat sat on a mat. ".repeat(6_800); // 258,400 characters
    const latencies = await aliceDuring(async () => {
      const response = await as(MALLORY, "/tokenize", { model: gw.model, content: text, with_pieces: true }, true);
      expect(response.status).toBe(200);
      const { tokens } = await jsonBody(response);
      expect(tokens.length).toBeGreaterThan(50_000);
      expect(tokens[1]).toMatchObject({ id: expect.any(Number), piece: expect.any(String) });
    });
    expect(quantile(latencies, 0.99)).toBeLessThan(1_000);
    const tooLarge = await as(MALLORY, "/tokenize", { model: gw.model, content: "x".repeat(262_145) }, true);
    expect(tooLarge.status).toBe(413);
    expect((await jsonBody(tooLarge)).error.param).toBe("content");
  });

  it("counts /tokenize, /detokenize and /apply-template against the caller's request rate", async () => {
    expect((await as(COUNTED, "/tokenize", { model: gw.model, content: "Once upon a time" }, true)).status).toBe(200);
    expect((await as(COUNTED, "/detokenize", { model: gw.model, tokens: [1, 2, 3] }, true)).status).toBe(200);
    const limited = await as(COUNTED, "/apply-template", { model: gw.model, messages: [{ role: "user", content: "Hi" }] }, true);
    expect(limited.status).toBe(429);
    expect((await jsonBody(limited)).error.code).toBe("rate_limit_exceeded");
  });

  it("bounds the tokens of one embeddings request, and another key's chats stay fast while a large one runs", async () => {
    const tooMany = await as(MALLORY, "/embeddings", { model: gw.model, input: Array.from({ length: 2_048 }, () => "word ".repeat(300)) });
    expect(tooMany.status).toBe(400);
    expect((await jsonBody(tooMany)).error.code).toBe("too_many_tokens");
    const tooManyInputs = await as(MALLORY, "/embeddings", { model: gw.model, input: Array.from({ length: 2_049 }, () => "x") });
    expect(tooManyInputs.status).toBe(400);
    expect((await jsonBody(tooManyInputs)).error).toMatchObject({ code: "too_many_inputs", param: "input" });
    const latencies = await aliceDuring(async () => {
      const response = await as(MALLORY, "/embeddings", { model: gw.model, input: Array.from({ length: 200 }, (_, i) => `story ${i} about a cat`) });
      expect(response.status).toBe(200);
    });
    expect(quantile(latencies, 0.99)).toBeLessThan(1_000);
  });

  it("fits a 500-item conversation with truncation auto in a few renders, not one per dropped turn", async () => {
    const input = Array.from({ length: 500 }, (_, i) => ({ type: "message", role: i % 2 ? "assistant" : "user", content: `turn ${i}: the cat sat on the mat and looked at the dog.` }));
    const latencies = await aliceDuring(async () => {
      const started = performance.now();
      const response = await as(MALLORY, "/responses", { model: gw.model, input, truncation: "auto", max_output_tokens: 4, store: false });
      expect(response.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(5_000);
    });
    expect(quantile(latencies, 0.99)).toBeLessThan(1_000);
  });

  it("closes a connection whose body never arrives (http.requestTimeoutMs, 1 s here; at once without a key), and answers 401 with connection: close", async () => {
    const { port } = new URL(gw.baseURL);
    const stalled = (authorization: string) => {
      const socket = connect(Number(port), "127.0.0.1");
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorization}content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":`);
      return new Promise<number>((done) => {
        const started = Date.now();
        socket.on("close", () => done(Date.now() - started));
        socket.on("error", () => {});
        socket.resume();
      });
    };
    const [withKey, withoutKey] = await Promise.all([stalled(`authorization: Bearer ${MALLORY}\r\n`), stalled("")]);
    expect(withKey).toBeGreaterThanOrEqual(900);
    expect(withKey).toBeLessThan(3_000);
    expect(withoutKey).toBeLessThan(500);

    const unauthenticated = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }] });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("connection")).toBe("close");
  });

  it("keeps saved prompt state private: a 0700 folder per engine process, 0600 files, a crashed process's folder swept", async () => {
    const response = await chat(ALICE, { n: 2, messages: [{ role: "user", content: "CONFIDENTIAL: the password is hunter2, and this prompt is long enough to be shared." }] });
    expect(response.status).toBe(200);
    const [engine] = childPids(process.pid);
    const folders = readdirSync(tmpdir()).filter((name) => name.startsWith(`llm-gateway-${engine}-`));
    expect(folders.length).toBe(1);
    const folder = join(tmpdir(), folders[0]!);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    const files = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    for (const file of files) expect(statSync(join(file.parentPath, file.name)).mode & 0o077).toBe(0);
    expect(readdirSync(tmpdir()).some((name) => name.startsWith(`llm-gateway-${engine}-`) && name.endsWith(".kv"))).toBe(false);
    expect(existsSync(DEAD_PROCESS_DIR)).toBe(false);
  });
});

describe("an open gateway on loopback (no keys): DNS rebinding", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it("refuses a request addressed to another name, even with a matching Origin, and serves loopback names", async () => {
    const rebound = await new Promise<{ status: number; body: string }>((done, fail) => {
      const body = JSON.stringify({ model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 });
      const request = httpRequest(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", host: "attacker.example:8080", origin: "http://attacker.example:8080" } }, (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk)).on("end", () => done({ status: response.statusCode!, body: text }));
      });
      request.on("error", fail);
      request.end(body);
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.code).toBe("host_not_allowed");
    expect((await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 })).status).toBe(200);
  });
});
