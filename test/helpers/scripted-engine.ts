import type { EngineStats, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine } from "../../src/engine/types.js";

/**
 * For HTTP-layer unit tests only: an engine that plays a script of events instead of running a model,
 * so failures the real engine rarely produces can be triggered on purpose. It records whether the
 * consumer stopped reading its events early.
 */
export class ScriptedEngine implements ModelEngine {
  readonly description: ModelDescription = {
    id: "scripted", path: "/dev/null", slots: 1, ctxSize: 64, layout: "per-slot", gpu: false, gpuLayers: 0, threads: 1, chatTemplate: "none", created: 0,
  };
  lastRequest?: GenerationRequest;
  eventsStoppedEarly = false;
  eventsFinished = false;

  constructor(private readonly script: (request: GenerationRequest) => GenerationEvent[] | Error) {}

  async start(request: GenerationRequest): Promise<Generation> {
    this.lastRequest = request;
    const result = this.script(request);
    if (result instanceof Error) throw result;
    const engine = this;
    async function* events(): AsyncGenerator<GenerationEvent> {
      let completed = false;
      try {
        const script = result as GenerationEvent[];
        for (const [index, event] of script.entries()) {
          await new Promise((r) => setImmediate(r));
          // A consumer that stops after the last event has still read everything.
          if (index === script.length - 1) completed = true;
          yield event;
        }
        completed = true;
      } finally {
        engine.eventsStoppedEarly = !completed;
        engine.eventsFinished = true;
      }
    }
    return { promptTokens: 3, cachedTokens: 0, slot: 0, queueWaitMs: 0, events: events() };
  }

  stats(): EngineStats {
    return { slotsTotal: 1, slotsBusy: 0, queuedRequests: 0, queuedTokens: 0, generatedTokens: 0 };
  }

  async close(): Promise<void> {}
}
