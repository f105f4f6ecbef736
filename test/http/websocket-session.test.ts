import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import pino from "pino";
import { validateConfig } from "../../src/config/load.js";
import { ModelRegistry } from "../../src/router/model-registry.js";
import { SocketSession, socketEndpoints } from "../../src/api/websocket/socket-session.js";
import { completionsEndpoint } from "../../src/api/completions/route.js";
import type { GenerationEndpoint } from "../../src/api/shared/endpoint.js";
import { ScriptedEngine } from "../helpers/scripted-engine.js";
import { ANONYMOUS, ApiKeys } from "../../src/auth/api-keys.js";
import { createLimiter } from "../../src/ratelimit/create-limiter.js";
import { GatewayMetrics } from "../../src/observability/metrics.js";
import { Lifecycle } from "../../src/api/shared/lifecycle.js";
import { until } from "../helpers/until.js";

const log = pino({ level: "silent" });

/** Stands in for a ws socket whose send buffer the test controls. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: Record<string, unknown>[] = [];
  closedWith?: number;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  terminate() {
    this.readyState = 3;
    this.emit("close");
  }
  ping() {}
}

const tokens = Array.from({ length: 50 }, () => ({ type: "text" as const, text: "x" }));

function session(engine: ScriptedEngine, stallTimeoutMs: number) {
  const socket = new FakeSocket();
  const registry = new ModelRegistry([engine]);
  const config = validateConfig({ ws: { maxBufferedBytes: 1024, stallTimeoutMs, pingIntervalMs: 60_000 } });
  new SocketSession(
    socket as unknown as WebSocket,
    socketEndpoints([completionsEndpoint] as GenerationEndpoint[], 64),
    { models: registry, limits: { ...config.request, maxTokens: 100, maxChoices: 4, maxTopLogprobs: 5, sseKeepAliveMs: 10_000 }, keys: ApiKeys.fromConfig(config), limiter: createLimiter(config, log).limiter, metrics: new GatewayMetrics(registry, () => "memory"), lifecycle: new Lifecycle(), logContent: false },
    config.ws,
    { name: ANONYMOUS, limits: { rpm: 0, tpm: 0, maxConcurrent: 0 }, weight: 1 },
    log,
  );
  const request = (id: string) => socket.emit("message", Buffer.from(JSON.stringify({ type: "completions.create", id, body: { model: "scripted", prompt: "x" } })), false);
  return { socket, request };
}

describe("WebSocket backpressure", () => {
  it("pauses a generation while the send buffer is full and resumes when it drains", async () => {
    const engine = new ScriptedEngine(() => [...tokens, { type: "done", finishReason: "length", usage: { promptTokens: 1, cachedTokens: 0, completionTokens: 50 } }]);
    const { socket, request } = session(engine, 5_000);
    socket.bufferedAmount = 10_000;
    request("slow");
    await new Promise((r) => setTimeout(r, 100));
    expect(socket.sent).toHaveLength(0); // paused: nothing more is pulled from the engine
    expect(engine.eventsFinished).toBe(false);
    socket.bufferedAmount = 0;
    await until(() => socket.sent.some((m) => m.type === "done"), "the done message", () => socket.sent.length);
    expect(socket.sent.filter((m) => m.type === "chunk")).toHaveLength(51); // 50 tokens + the finish chunk
    expect(engine.eventsStoppedEarly).toBe(false);
  });

  it("closes a socket that stays stalled and stops its generations", async () => {
    const engine = new ScriptedEngine(() => tokens);
    const { socket, request } = session(engine, 100);
    socket.bufferedAmount = 10_000;
    request("stuck");
    await until(() => engine.eventsFinished, "the generation to stop", () => socket.closedWith);
    expect(socket.closedWith).toBe(1008);
    expect(engine.eventsStoppedEarly).toBe(true);
  });
});
