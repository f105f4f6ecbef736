import { ApiError, invalidRequest, withoutPaths } from "../errors.js";
import type { ChatRenderInput, Embeddings, RenderedChat, EngineStats, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine } from "../engine/types.js";

export type ModelState = "unloaded" | "loading" | "loaded" | "failed";

export interface ManagedModelOptions {
  id: string;
  aliases: string[];
  /** What /v1/models shows before the model is loaded. */
  planned: ModelDescription;
  /** Loads the model (in this process or in an engine process). */
  load(): Promise<ModelEngine>;
  /** False for a model served elsewhere (upstreams): it takes no memory here and never counts against maxLoadedModels. */
  holdsMemory?: boolean;
  /** About how many bytes the model takes once loaded (router.memoryBudgetMiB); absent when unknown before loading (hf: downloads). */
  estimateMemory?(): Promise<number>;
  /** Unload after this long idle; -1 = never. */
  keepAliveMs: number;
  /** A failed load is tried again on a request after this long. */
  retryFailedLoadMs: number;
  /** Frees room (unloads idle models) before this one loads; throws when it cannot. */
  makeRoom(model: ManagedModel): Promise<void>;
  onLoaded(model: ManagedModel, engine: ModelEngine, seconds: number): void;
  onLoadFailed(model: ManagedModel, error: Error): void;
  onUnloaded(model: ManagedModel): void;
}

/**
 * One configured model, loaded or not: loads on the first request (concurrent first requests share one
 * load), unloads after `keepAliveMs` idle, and remembers a failed load so its requests get a clear 503
 * instead of a retry storm.
 */
export class ManagedModel implements ModelEngine {
  state: ModelState = "unloaded";
  failure?: string;
  lastUsed = 0;
  private engine?: ModelEngine;
  private loading?: Promise<ModelEngine>;
  private failedAt = 0;
  private active = 0;
  private idleTimer?: NodeJS.Timeout;

  constructor(private readonly options: ManagedModelOptions) {}

  get id(): string {
    return this.options.id;
  }

  get holdsMemory(): boolean {
    return this.options.holdsMemory !== false;
  }

  private memoryEstimate?: Promise<number>;

  /** The estimated memory the model takes loaded (0 when unknown), read once. */
  memoryNeed(): Promise<number> {
    this.memoryEstimate ??= this.holdsMemory && this.options.estimateMemory ? this.options.estimateMemory().catch(() => 0) : Promise.resolve(0);
    return this.memoryEstimate;
  }

  get aliases(): string[] {
    return this.options.aliases;
  }

  get description(): ModelDescription {
    const { planned } = this.options;
    return this.engine ? { ...this.engine.description, sampling: planned.sampling } : planned;
  }

  /** Loaded, with no generation running or waiting. */
  get idle(): boolean {
    return this.state === "loaded" && this.active === 0;
  }

  /** The running engine (loading it first if needed). */
  ensureLoaded(): Promise<ModelEngine> {
    if (this.engine) return Promise.resolve(this.engine);
    if (this.loading) return this.loading;
    if (this.state === "failed" && Date.now() - this.failedAt < this.options.retryFailedLoadMs) return Promise.reject(this.unavailable());
    this.loading = this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  async start(request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    this.active++;
    this.lastUsed = Date.now();
    clearTimeout(this.idleTimer);
    let generation: Generation;
    try {
      generation = await (await this.ensureLoaded()).start(request, signal);
    } catch (error) {
      this.release();
      throw error;
    }
    return { ...generation, events: this.untilDone(generation.events) };
  }

  async tokenize(text: string, special: boolean): Promise<number[]> {
    return (await this.vocabulary("tokenize")).tokenize!(text, special);
  }

  async detokenize(tokens: number[], preceding?: number[]): Promise<string> {
    return (await this.vocabulary("detokenize")).detokenize!(tokens, preceding);
  }

  async pieces(tokens: number[]): Promise<string[]> {
    return (await this.vocabulary("tokenize")).pieces!(tokens);
  }

  async renderChat(input: ChatRenderInput, signal?: AbortSignal): Promise<RenderedChat> {
    return (await this.vocabulary("apply-template")).renderChat!(input, signal);
  }

  async embed(inputs: string[], signal?: AbortSignal): Promise<Embeddings> {
    return (await this.vocabulary("v1/embeddings")).embed!(inputs, signal);
  }

  private async vocabulary(what: string): Promise<ModelEngine> {
    const engine = await this.ensureLoaded();
    if (!engine.tokenize) throw invalidRequest(`The model '${this.id}' is served by an upstream; /${what} is only available for local models.`, "model", "unsupported_model");
    return engine;
  }

  stats(): EngineStats {
    return this.engine?.stats() ?? { slotsTotal: this.options.planned.slots, slotsBusy: 0, queuedRequests: 0, queuedTokens: 0, generatedTokens: 0 };
  }

  /** Unloads now if idle; returns whether it did. */
  async unload(): Promise<boolean> {
    if (!this.engine || this.active > 0) return false;
    const engine = this.engine;
    this.engine = undefined;
    this.state = "unloaded";
    clearTimeout(this.idleTimer);
    await engine.close();
    this.options.onUnloaded(this);
    return true;
  }

  stopRestarts(): void {
    this.engine?.stopRestarts?.();
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.loading?.catch(() => {});
    await this.engine?.close();
    this.engine = undefined;
  }

  private async load(): Promise<ModelEngine> {
    try {
      await this.options.makeRoom(this);
    } catch (error) {
      // Busy models free up; a model larger than the whole budget never fits: that is a failed load.
      if (error instanceof ApiError && error.code === "model_too_large") this.fail(error);
      throw error;
    }
    this.state = "loading";
    const started = performance.now();
    try {
      const engine = await this.options.load();
      this.engine = engine;
      this.state = "loaded";
      this.failure = undefined;
      this.options.onLoaded(this, engine, (performance.now() - started) / 1000);
      if (this.active === 0) this.scheduleUnload();
      return engine;
    } catch (error) {
      this.fail(error as Error);
      throw this.unavailable();
    }
  }

  private fail(error: Error): void {
    this.state = "failed";
    this.failure = withoutPaths(error.message); // shown to clients (/ready, 503s); the log has the whole message
    this.failedAt = Date.now();
    this.options.onLoadFailed(this, error);
  }

  private unavailable(): ApiError {
    return new ApiError(503, `The model '${this.id}' is not available: ${this.failure}`, "server_error", "model_unavailable", "model", this.options.retryFailedLoadMs);
  }

  private async *untilDone(events: AsyncIterable<GenerationEvent>): AsyncGenerator<GenerationEvent> {
    try {
      yield* events;
    } finally {
      this.release();
    }
  }

  private release(): void {
    this.active--;
    this.lastUsed = Date.now();
    if (this.active === 0) this.scheduleUnload();
  }

  private scheduleUnload(): void {
    if (this.options.keepAliveMs < 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.unload(), this.options.keepAliveMs);
    this.idleTimer.unref();
  }
}
