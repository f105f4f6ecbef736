import type { Llama, LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import type { EngineConfig, GatewayConfig } from "../config/schema.js";
import { generationFailed, invalidRequest, timedOut } from "../errors.js";
import { availableCpus, defaultThreadsPerContext } from "./cpu-budget.js";
import { tiledAttentionHeads, tileEfficiency } from "./attention-tiles.js";
import { CoreLending, threadsByPhase } from "./prompt-threads.js";
import { currentThreadpool } from "./worker-pool.js";
import { lowerWorkerThreadPriority } from "./thread-priority.js";
import { BatchFill, slotPriority } from "./batch-fill.js";
import { generateOnSlot } from "./generation.js";
import { ReasoningSplitter, separateReasoning, startingWith, type ReasoningMode } from "./reasoning.js";
import { generateWithAutoCalls } from "./tools/auto-calls.js";
import { ForcedCallReader, forcedCallConstraint, forcedCallLayout, forcedToolCalls } from "./tools/forced-calls.js";
import { choosePooling, Embedder, type PoolingChoice } from "./embedder.js";
import { GrammarCache } from "./grammar-cache.js";
import { ggufSamplingDefaults } from "./gguf-sampling.js";
import { PromptRenderer } from "./prompt.js";
import { PromptCache } from "./prompt-cache.js";
import { PromptSharing } from "./prompt-sharing.js";
import { Slot } from "./slot.js";
import { speculationFor, type Speculation } from "./speculative.js";
import { streamEvery } from "./stream-interval.js";
import { vocabularySize } from "./token-bias.js";
import { SlotScheduler } from "./slot-scheduler.js";
import { ANONYMOUS_TICKET } from "./tenant-queues.js";
import type { ChatRenderInput, Embeddings, EngineStats, RenderedChat, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine } from "./types.js";

export interface LlamaEngineOptions {
  llama: Llama;
  id: string;
  path: string;
  config: Pick<GatewayConfig, "engine" | "queue" | "request">;
}

type Layout = ModelDescription["layout"];

const DEFAULT_MAX_CTX_SIZE = 4096; // per slot; a 128K-context model would otherwise take all memory

/** One loaded GGUF model with its slots, its queue and the generation loop. */
export class LlamaEngine implements ModelEngine {
  private constructor(
    readonly description: ModelDescription,
    private readonly model: LlamaModel,
    private readonly contexts: LlamaContext[],
    private readonly slots: Slot[],
    private readonly scheduler: SlotScheduler<Slot>,
    private readonly renderer: PromptRenderer,
    /** request.timeoutMs, request.maxEmbeddingTokens, request.renderTimeoutMs. */
    private readonly limits: Pick<GatewayConfig["request"], "timeoutMs" | "maxEmbeddingTokens" | "renderTimeoutMs">,
    private readonly streamInterval: number,
    private readonly reasoning: ReasoningMode,
    private readonly batchFill: BatchFill | undefined,
    private readonly promptCache: PromptCache | undefined,
    private readonly pooling: PoolingChoice,
    private readonly speculation?: Speculation,
  ) {
    this.grammars = new GrammarCache(model.llama);
  }

  private readonly grammars: GrammarCache;
  private readonly sharing = new PromptSharing();

  static async load({ llama, id, path, config }: LlamaEngineOptions): Promise<LlamaEngine> {
    const { engine } = config;
    const layout: Layout = engine.layout === "auto" ? (llama.gpu === false ? "per-slot" : "batched") : engine.layout;
    const contextCount = layout === "batched" ? 1 : engine.slots;
    const threads = engine.threads || defaultThreadsPerContext(contextCount);
    const model = await llama.loadModel({ modelPath: path, gpuLayers: engine.gpuLayers });
    let pooling: PoolingChoice;
    try {
      pooling = choosePooling(model, engine.pooling);
    } catch (error) {
      await model.dispose();
      throw error;
    }
    const ctxSize = engine.ctxSize || Math.min(model.trainContextSize, DEFAULT_MAX_CTX_SIZE);
    const contexts: LlamaContext[] = [];
    const batchFill = layout === "batched" && engine.batchStrategy === "fill" ? new BatchFill() : undefined;
    try {
      const sequencesPerContext = layout === "batched" ? engine.slots : 1;
      for (let i = 0; i < contextCount; i++) {
        contexts.push(
          await model.createContext({
            sequences: sequencesPerContext,
            contextSize: ctxSize,
            threads,
            flashAttention: engine.flashAttention,
            ...kvCacheOptions(engine.kvCacheType),
            ...(engine.batchSize ? { batchSize: engine.batchSize } : {}),
            ...(batchFill ? { batching: { itemPrioritizationStrategy: batchFill.strategy } } : {}),
          }),
        );
      }
    } catch (error) {
      await Promise.all(contexts.map((c) => c.dispose()));
      await model.dispose();
      throw error;
    }
    let speculation: Speculation;
    try {
      speculation = await speculationFor(llama, model, engine, engine.slots, ctxSize);
    } catch (error) {
      await Promise.all(contexts.map((c) => c.dispose()));
      await model.dispose();
      throw error;
    }
    const slots = contexts.flatMap((context) =>
      Array.from({ length: context.totalSequences }, () => {
        const tokenPredictor = speculation.predictor();
        return context.getSequence(tokenPredictor ? { tokenPredictor } : {});
      }),
    ).map((sequence, index) => new Slot(index, sequence, engine.prefixCache, { chunkMs: engine.prefillChunkMs, share: engine.prefillShare, minChunk: engine.prefillMinChunk }));
    const scheduler = new SlotScheduler(slots, config.queue, engine.slotReuseThreshold);
    for (const slot of slots) slot.pacer.othersGenerating = () => scheduler.busyCount > 1;
    // Per-slot contexts on CPU: a prompt batch takes the cores that no other slot is using (at most promptThreads).
    const cpus = availableCpus();
    const promptThreadsCap = engine.promptThreads || cpus;
    const promptThreads = () => Math.min(promptThreadsCap, cpus - (scheduler.busyCount - 1) * threads);
    const cores = new CoreLending(cpus);
    const prompts = layout === "per-slot" && llama.gpu === false && promptThreadsCap > threads
      ? contexts.every((context) => threadsByPhase(context, threads, promptThreads, cores))
      : false;
    // Prompt chunks sized to fill flash attention's tiles on the threads they will run on (one sequence per context).
    const heads = layout === "per-slot" ? tiledAttentionHeads(model, llama.gpu === false, engine.flashAttention) : undefined;
    if (heads) for (const slot of slots) slot.pacer.efficiency = (tokens) => tileEfficiency(tokens, heads, prompts ? Math.max(threads, promptThreads()) : threads);
    // The pool threads exist by now (loading ran on them): on CPU, the decodes they run yield to the JS thread.
    if (llama.gpu === false) lowerWorkerThreadPriority(engine.workerNice);
    const renderer = new PromptRenderer(model, engine.chatTemplate, { thinking: engine.thinking === "on" }, engine.stop);
    const gpuInfo = llama.gpu === false ? {} : { gpuDevices: await llama.getGpuDeviceNames(), vram: await llama.getVramState().then(({ total, used }) => ({ total, used })) };
    const description: ModelDescription = {
      id,
      path,
      slots: slots.length,
      ctxSize,
      layout,
      gpu: llama.gpu,
      ...gpuInfo,
      gpuLayers: model.gpuLayers,
      threads,
      promptThreads: prompts ? promptThreadsCap : threads,
      workerThreads: currentThreadpool(),
      chatTemplate: renderer.templateName,
      modelSampling: ggufSamplingDefaults(model.fileInfo.metadata),
      pooling,
      ...(engine.speculative !== "off" ? { speculative: engine.speculative } : {}),
      created: Math.floor(Date.now() / 1000),
    };
    const promptCache = engine.prefixCache && engine.promptCacheMiB > 0 ? new PromptCache(engine.promptCacheMiB * 2 ** 20, engine.promptCacheEntries) : undefined;
    return new LlamaEngine(description, model, contexts, slots, scheduler, renderer, config.request, engine.streamInterval, engine.reasoning, batchFill, promptCache, pooling, speculation);
  }

  async start(request: GenerationRequest, clientSignal: AbortSignal): Promise<Generation> {
    const tools = request.prompt.kind === "chat" ? request.tools : undefined;
    const autoCalls = tools?.choice.mode === "auto";
    // A forced call is JSON from its first token (after the thinking, where the template opens a thinking block).
    if (tools && !autoCalls) request = { ...request, constraint: forcedCallConstraint(tools) };
    const args = request.prompt.kind === "chat" ? request.prompt.templateArgs : undefined;
    // A long conversation renders on a worker thread, within request.renderTimeoutMs and stopped if the client leaves.
    const rendered = request.prompt.kind === "chat" ? await this.renderer.renderOffThread({ messages: request.prompt.messages, tools: tools?.tools, args }, this.renderBudget(clientSignal)) : undefined;
    const prompt = this.renderer.render(request.prompt, { tools: tools?.tools, openThought: !request.constraint, args }, rendered);
    const vocabulary = vocabularySize(this.model);
    const outside = Object.keys(request.logitBias ?? {}).find((token) => Number(token) >= vocabulary);
    if (outside !== undefined) throw invalidRequest(`logit_bias names token ${outside}, which is not in this model's vocabulary (0 to ${vocabulary - 1}).`, "logit_bias", "invalid_value");
    const ctxSize = this.description.ctxSize;
    if (prompt.tokens.length >= ctxSize) {
      const what = request.prompt.kind === "chat" ? (request.prompt.param ?? "messages") : "prompt";
      throw invalidRequest(
        `This model's maximum context length is ${ctxSize} tokens. However, your ${what} resulted in ${prompt.tokens.length} tokens (at least one token must be left for the completion).`,
        what,
        "context_length_exceeded",
      );
    }
    // Compiled before a slot is taken: a grammar that does not compile is the request's 400, not a held slot.
    const grammar = request.constraint ? await this.grammars.get(request.constraint) : undefined;
    const queuedAt = performance.now();
    const slot = await this.scheduler.acquire(prompt.tokens, clientSignal, { tenant: request.tenant?.name ?? ANONYMOUS_TICKET.tenant, weight: request.tenant?.weight ?? 1, priority: request.priority ?? 0 });
    if (slot.reusesPrefixes) this.sharing.announce(request.share);
    const queueWaitMs = performance.now() - queuedAt;
    const timeout = AbortSignal.timeout(this.limits.timeoutMs);
    const signal = AbortSignal.any([clientSignal, timeout]);
    let cached: number;
    let reused: number;
    try {
      await this.promptCache?.prepare(slot, prompt.tokens);
      cached = await slot.keepSharedPrefix(prompt.tokens);
      reused = slot.reusesPrefixes ? await this.sharing.prepare(request.share, slot, prompt.tokens, cached, signal) : cached;
      // A follower's prompt came from the first choice's state: cached for it, not evaluated.
      if (request.share && request.share.index > 0) cached = reused;
      clientSignal.throwIfAborted();
    } catch (error) {
      if (request.share?.index === 0) this.sharing.forget(request.share.group);
      this.scheduler.release(slot);
      throw error;
    }
    const generation = { promptTokens: prompt.tokens.length, cachedTokens: cached, slot: slot.index, queueWaitMs };
    let started = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      signal.removeEventListener("abort", releaseIfIdle);
      this.scheduler.release(slot);
    };
    // A client that leaves before the events are read must not keep the slot.
    const releaseIfIdle = () => {
      if (!started) release();
    };
    signal.addEventListener("abort", releaseIfIdle, { once: true });
    const timeoutMs = this.limits.timeoutMs;
    const streamInterval = this.streamInterval;
    const generate = () => this.eventsOnSlot({ slot, prompt, reused, request, signal, grammar, ...(this.batchFill ? { evaluationPriority: slotPriority(slot.index) } : {}) });
    const batchFill = this.batchFill;
    async function* events(): AsyncGenerator<GenerationEvent> {
      started = true;
      batchFill?.begin();
      try {
        if (signal.aborted) return;
        yield* streamEvery(generate(), streamInterval);
        if (timeout.aborted && !clientSignal.aborted) {
          yield { type: "error", error: timedOut(`The request did not finish within ${timeoutMs} ms and was stopped.`).toData() };
        }
      } catch (error) {
        yield { type: "error", error: generationFailed(error).toData() };
      } finally {
        batchFill?.end();
        release();
      }
    }
    return { ...generation, events: events() };
  }

  /** The events of one answer: plain, with tool calls in the model's syntax (auto) or forced as JSON, with thinking split off. */
  private eventsOnSlot(job: Omit<Parameters<typeof generateOnSlot>[0], "model">): AsyncIterable<GenerationEvent> {
    const { request, prompt } = job;
    const tools = request.prompt.kind === "chat" ? request.tools : undefined;
    if (tools?.choice.mode === "auto" && request.prompt.kind === "chat")
      return generateWithAutoCalls({ ...job, model: this.model, renderer: this.renderer, messages: request.prompt.messages, tools, promptTokens: prompt.tokens.length, reasoning: this.reasoning });
    const markers = request.prompt.kind === "chat" ? this.renderer.thoughtMarkers : undefined;
    // A thinking block the template opened stays open: a grammar (a format, a forced call) shapes what follows it.
    const thinksFirst = markers !== undefined && prompt.opensInThought;
    const events = generateOnSlot({ ...job, model: this.model, ...(thinksFirst ? { grammarAfter: markers.suffix } : {}) });
    if (tools) return forcedToolCalls(thinksFirst ? separateReasoning(events, new ReasoningSplitter(markers, true)) : events, new ForcedCallReader(forcedCallLayout(tools)));
    if (!markers) return events;
    if (this.reasoning === "inline") return prompt.opensInThought && markers.prefix ? startingWith(markers.prefix, events) : events;
    return separateReasoning(events, new ReasoningSplitter(markers, prompt.opensInThought));
  }

  /**
   * Raw (unnormalized) embeddings from a context of their own, made on first use. Inputs take turns one at a
   * time with other requests' inputs (one request's 2,048 inputs do not hold up another's one), and a request
   * whose signal aborts stops before its next input.
   */
  async embed(inputs: string[], signal?: AbortSignal): Promise<Embeddings> {
    const { ctxSize } = this.description;
    const tokenized = inputs.map((input, index) => {
      const tokens = this.model.tokenize(input);
      if (tokens.length > ctxSize) throw invalidRequest(`Input ${index} has ${tokens.length} tokens; this model embeds at most ${ctxSize}.`, "input", "context_length_exceeded");
      return tokens;
    });
    const promptTokens = tokenized.reduce((sum, tokens) => sum + tokens.length, 0);
    const limit = this.limits.maxEmbeddingTokens;
    if (promptTokens > limit) throw invalidRequest(`The inputs have ${promptTokens} tokens together; one request may embed at most ${limit} (request.maxEmbeddingTokens).`, "input", "too_many_tokens");
    const vectors: number[][] = [];
    for (const tokens of tokenized) vectors.push(await this.embedInTurn(tokens, signal));
    return { vectors, promptTokens };
  }

  private embedInTurn(tokens: Token[], signal: AbortSignal | undefined): Promise<number[]> {
    const run = this.embeddingQueue.then(async () => {
      signal?.throwIfAborted();
      this.embedder ??= Embedder.create(this.model, this.pooling, { contextSize: this.description.ctxSize, threads: this.description.threads || 1 });
      return (await this.embedder).embed(tokens);
    });
    this.embeddingQueue = run.catch(() => {});
    return run;
  }

  private embedder?: Promise<Embedder>;
  private embeddingQueue: Promise<unknown> = Promise.resolve();

  async tokenize(text: string, special: boolean): Promise<number[]> {
    // As llama.cpp's tokenizer does with add_special: BOS in front, even before a BOS the text itself spells.
    const tokens = this.model.tokenize(text, special);
    const { bos, shouldPrependBosToken } = this.model.tokens;
    return special && shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
  }

  async detokenize(tokens: number[], preceding: number[] = []): Promise<string> {
    this.checkVocabulary(tokens);
    return this.model.detokenize(tokens as Token[], true, preceding as Token[]);
  }

  async pieces(tokens: number[]): Promise<string[]> {
    this.checkVocabulary(tokens);
    return tokens.map((token, i) => this.model.detokenize([token as Token], true, tokens.slice(Math.max(0, i - 4), i) as Token[]));
  }

  private checkVocabulary(tokens: readonly number[]): void {
    const vocabulary = vocabularySize(this.model);
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocabulary);
    if (bad >= 0) throw invalidRequest(`Token ${tokens[bad]} at index ${bad} is not in this model's vocabulary (0 to ${vocabulary - 1}).`, "tokens", "invalid_value");
  }

  async renderChat({ messages, tools, templateArgs: args }: ChatRenderInput, signal?: AbortSignal): Promise<RenderedChat> {
    signal?.throwIfAborted();
    const rendered = await this.renderer.renderOffThread({ messages, tools, args }, this.renderBudget(signal));
    return { prompt: this.renderer.promptText({ messages, tools, args }, rendered), tokens: this.renderer.render({ kind: "chat", messages }, { tools, args }, rendered).tokens };
  }

  private renderBudget(signal: AbortSignal | undefined) {
    return { timeoutMs: this.limits.renderTimeoutMs, ...(signal ? { signal } : {}) };
  }

  stats(): EngineStats {
    return {
      generatedTokens: this.slots.reduce((sum, slot) => sum + slot.generatedTokens, 0),
      slotsTotal: this.slots.length,
      slotsBusy: this.scheduler.busyCount,
      queuedRequests: this.scheduler.queuedRequests,
      queuedTokens: this.scheduler.queuedTokens,
      queuedByKey: this.scheduler.queuedByTenant,
    };
  }

  async close(): Promise<void> {
    await (await this.embedder?.catch(() => undefined))?.dispose();
    await Promise.all(this.contexts.map((context) => context.dispose()));
    await this.speculation?.dispose();
    await this.model.dispose();
    this.promptCache?.close();
    this.renderer.close();
  }
}

function kvCacheOptions(type: EngineConfig["kvCacheType"]) {
  if (type === "f16") return {};
  const ggml = type === "q8_0" ? "Q8_0" : "Q4_0";
  return { experimentalKvCacheKeyType: ggml, experimentalKvCacheValueType: ggml } as const;
}
