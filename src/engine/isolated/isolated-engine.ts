import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { ApiError } from "../../errors.js";
import type { ChatRenderInput, Embeddings, RenderedChat, EngineStats, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine } from "../types.js";
import { EventQueue } from "../event-queue.js";
import { workerPoolSize } from "../worker-pool.js";
import type { EngineSpec, FromEngine, ToEngine, WireError } from "./protocol.js";

// Beside this file: engine-host.ts when running from source (through tsx), engine-host.js when built.
// GATEWAY_ENGINE_HOST: another build of engine-host (the test suite runs its engines from the compiled one: a
// process started through tsx costs twice the CPU before it loads its model).
const HOST = process.env.GATEWAY_ENGINE_HOST || fileURLToPath(new URL(`./engine-host${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const HOST_EXEC_ARGV = HOST.endsWith(".ts") ? ["--import", "tsx"] : [];
// The gateway's own diagnostic and memory flags reach its engine processes (as Node's fork passes execArgv by
// default): `node --cpu-prof dist/src/cli.js` profiles every process (Node refuses these in NODE_OPTIONS).
const INHERITED_FLAG = /^--(cpu-prof|heap-prof|max-old-space-size|max-semi-space-size|stack-size)/;
const inheritedExecArgv = () => process.execArgv.filter((flag) => INHERITED_FLAG.test(flag));

/** Restarts after crashes back off up to this long, so a model that always crashes does not spin. */
const MAX_RESTART_DELAY_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const crashed = (id: string, reason: string) =>
  new ApiError(503, `The engine of model '${id}' stopped unexpectedly (${reason}) while serving this request; it is being restarted.`, "server_error", "engine_crashed", null, 1_000);
const fromWire = (error: WireError) => new ApiError(error.status, error.message, error.type, error.code, error.param, error.retryAfterMs);

interface Pending {
  started(generation: Generation): void;
  failed(error: ApiError): void;
  queue?: EventQueue<GenerationEvent>;
}

/**
 * A model served by its own supervised process. Requests, events and aborts cross as IPC messages; when
 * the process dies, its requests get a 503 (or an error event mid-stream), and a new process loads the
 * model again while other models and requests keep serving.
 */
export class IsolatedEngine implements ModelEngine {
  private child!: ChildProcess;
  private ready!: Promise<void>;
  private closing = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly calls = new Map<number, { resolve(value: unknown): void; reject(error: ApiError): void }>();
  private lastStats: EngineStats;
  private restarts = 0;
  description!: ModelDescription;

  private constructor(
    private readonly spec: EngineSpec,
    private readonly log: Logger,
  ) {
    this.lastStats = { slotsTotal: spec.config.engine.slots, slotsBusy: 0, queuedRequests: 0, queuedTokens: 0, generatedTokens: 0 };
  }

  static async start(spec: EngineSpec, log: Logger): Promise<IsolatedEngine> {
    const engine = new IsolatedEngine(spec, log);
    engine.spawn();
    try {
      await engine.ready;
    } catch (error) {
      engine.closing = true;
      engine.child.kill("SIGKILL");
      throw error;
    }
    return engine;
  }

  /** The engine process's id (tests use it to kill the process). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  async start(request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    await this.ready.catch(() => {
      throw new ApiError(503, `The model '${this.spec.id}' could not be loaded again after its engine stopped.`, "server_error", "model_unavailable", null, 5_000);
    });
    signal.throwIfAborted();
    const id = ++this.nextId;
    const started = new Promise<Generation>((resolve, reject) => this.pending.set(id, { started: resolve, failed: reject }));
    const onAbort = () => this.send({ type: "abort", id });
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      // A request that cannot be sent (not serialisable, say) must not stay pending: a later crash would reject it unobserved.
      this.send({ type: "start", id, request });
      return { ...(await started), engineProcess: this.child.pid };
    } catch (error) {
      this.pending.delete(id);
      signal.removeEventListener("abort", onAbort);
      throw error;
    }
  }

  tokenize(text: string, special: boolean): Promise<number[]> {
    return this.call({ method: "tokenize", text, special }) as Promise<number[]>;
  }

  detokenize(tokens: number[], preceding: number[] = []): Promise<string> {
    return this.call({ method: "detokenize", tokens, preceding }) as Promise<string>;
  }

  pieces(tokens: number[]): Promise<string[]> {
    return this.call({ method: "pieces", tokens }) as Promise<string[]>;
  }

  renderChat(input: ChatRenderInput, signal?: AbortSignal): Promise<RenderedChat> {
    return this.call({ method: "renderChat", input }, signal) as Promise<RenderedChat>;
  }

  embed(inputs: string[], signal?: AbortSignal): Promise<Embeddings> {
    return this.call({ method: "embed", inputs }, signal) as Promise<Embeddings>;
  }

  stats(): EngineStats {
    return this.lastStats;
  }

  /** A request/response call into the engine process; fails like a generation does if the process dies. */
  private async call(call: DistributiveOmit<Extract<ToEngine, { type: "call" }>, "type" | "id">, signal?: AbortSignal): Promise<unknown> {
    await this.ready.catch(() => {
      throw new ApiError(503, `The model '${this.spec.id}' is not available.`, "server_error", "model_unavailable", null, 5_000);
    });
    signal?.throwIfAborted();
    const id = ++this.nextId;
    const result = new Promise((resolve, reject) => this.calls.set(id, { resolve, reject }));
    // The engine process stops a long call (embeddings, a render) between its steps.
    const onAbort = () => this.send({ type: "abort", id });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.send({ type: "call", id, ...call });
      return await result;
    } finally {
      this.calls.delete(id);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  stopRestarts(): void {
    this.closing = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.send({ type: "close" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private spawn(): void {
    const { engine } = this.spec.config;
    this.child = fork(HOST, [], {
      execArgv: [...inheritedExecArgv(), ...HOST_EXEC_ARGV],
      // Decodes run on the libuv pool: as many at once as the cores take (worker-pool.ts).
      env: { ...process.env, UV_THREADPOOL_SIZE: String(workerPoolSize(engine)) },
      // A process group of its own: Ctrl-C and `kill -- -PGID` reach the gateway only, which drains and then
      // closes its engines (engine-host.ts also ignores signals that reach it through a cgroup).
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (batch: FromEngine[]) => {
        for (const message of batch) {
          if (message.type === "loaded") {
            this.description = message.description;
            resolve();
          } else if (message.type === "load-failed") {
            reject(new Error(message.message));
            this.child.kill("SIGKILL"); // a process without a model is of no use; a restart (if any) tries again
          }
          else this.receive(message);
        }
      };
      this.child.on("message", onMessage);
      this.child.once("exit", (code, signal) => {
        reject(new Error(`engine process exited (${signal ?? `code ${code}`}) while loading`));
        this.onExit(signal ?? `exit code ${code}`);
      });
    });
    this.ready.catch(() => {}); // callers observe it through start()
    this.send({ type: "load", spec: this.spec });
  }

  private receive(message: FromEngine): void {
    switch (message.type) {
      case "stats":
        this.lastStats = message.stats;
        return;
      case "log":
        return void this.log[message.level]({ model: this.spec.id, ...message.fields }, message.message);
      case "started": {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        const queue = new EventQueue<GenerationEvent>(() => {
          if (this.pending.delete(message.id)) this.send({ type: "abort", id: message.id }); // the consumer stopped reading
        });
        pending.queue = queue;
        const { promptTokens, cachedTokens, slot, queueWaitMs } = message;
        return pending.started({ promptTokens, cachedTokens, slot, queueWaitMs, events: queue.iterate() });
      }
      case "start-failed":
        this.pending.get(message.id)?.failed(fromWire(message.error));
        this.pending.delete(message.id);
        return;
      case "result":
        this.calls.get(message.id)?.resolve(message.value);
        this.calls.delete(message.id);
        return;
      case "call-failed":
        this.calls.get(message.id)?.reject(fromWire(message.error));
        this.calls.delete(message.id);
        return;
      case "event":
        return void this.pending.get(message.id)?.queue?.push(message.event);
      case "end":
        this.pending.get(message.id)?.queue?.end();
        this.pending.delete(message.id);
        return;
    }
  }

  private onExit(reason: string): void {
    for (const pending of this.pending.values()) {
      const error = crashed(this.spec.id, reason);
      if (pending.queue) {
        pending.queue.push({ type: "error", error: error.toData() });
        pending.queue.end();
      } else pending.failed(error);
    }
    this.pending.clear();
    for (const call of this.calls.values()) call.reject(crashed(this.spec.id, reason));
    this.calls.clear();
    this.lastStats = { ...this.lastStats, slotsBusy: 0, queuedRequests: 0, queuedTokens: 0 };
    if (this.closing) return;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** this.restarts++);
    this.log.error({ model: this.spec.id, reason, restartInMs: delay }, `engine of ${this.spec.id} stopped unexpectedly; restarting it`);
    let restarted: () => void;
    this.ready = new Promise<void>((resolve) => (restarted = resolve)).then(() => this.readyAfterSpawn());
    this.ready.catch(() => {});
    setTimeout(() => restarted(), delay).unref();
  }

  private async readyAfterSpawn(): Promise<void> {
    if (this.closing) throw new Error("closed");
    this.spawn();
    await this.ready;
    this.log.info({ model: this.spec.id }, `engine of ${this.spec.id} is back`);
    setTimeout(() => (this.restarts = 0), 60_000).unref(); // a minute without crashing resets the back-off
  }

  private send(message: ToEngine): void {
    if (this.child.connected) this.child.send(message);
  }
}
