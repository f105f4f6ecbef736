import type { LlamaContext } from "node-llama-cpp";

// node-llama-cpp gives a context one thread count for every decode. With the prebuilt binaries (no OpenMP,
// no persistent thread pool) single-token decodes collapse above one thread per context (spin barriers: see
// ../shared/notes/engine-performance.md), while a prompt batch has few barriers per token and scales with
// cores: a 1,752-token prompt on the 57M model took 2.75 s at 1 thread and 1.48 s at 2 on 2 vCPUs.
// So a context's prompt batches get the cores no other slot is using, and its generation keeps its threads.

interface NativeContext {
  initBatch(size: number): void;
  decodeBatch(): Promise<void>;
  setThreads(threads: number): void;
}

/**
 * Makes `context` (one sequence: a batch of more than one token is prompt) decode prompt batches with
 * `promptThreads()` threads and everything else with `generationThreads`. It wraps node-llama-cpp's native
 * context object, an internal of node-llama-cpp 3.x; where that is not there, it does nothing and says so.
 */
export function threadsByPhase(context: LlamaContext, generationThreads: number, promptThreads: () => number): boolean {
  const native = (context as unknown as { _ctx?: Partial<NativeContext> })._ctx;
  if (!native || typeof native.initBatch !== "function" || typeof native.decodeBatch !== "function" || typeof native.setThreads !== "function") return false;
  const { initBatch, decodeBatch, setThreads } = { initBatch: native.initBatch.bind(native), decodeBatch: native.decodeBatch.bind(native), setThreads: native.setThreads.bind(native) };
  let batchTokens = 0;
  let current = -1;
  // The addon's methods are read-only on its prototype: own properties shadow them.
  const replace = <K extends keyof NativeContext>(name: K, value: NativeContext[K]) => Object.defineProperty(native, name, { value, configurable: true, writable: true });
  try {
    replace("initBatch", (size) => {
      batchTokens = size;
      initBatch(size);
    });
    replace("setThreads", () => {}); // node-llama-cpp's own choice, made just before each decode: replaced by ours
    replace("decodeBatch", () => {
      const threads = batchTokens > 1 ? Math.max(generationThreads, promptThreads()) : generationThreads;
      if (threads !== current) setThreads((current = threads));
      return decodeBatch();
    });
    return true;
  } catch {
    for (const name of ["initBatch", "setThreads", "decodeBatch"]) delete (native as Record<string, unknown>)[name];
    return false;
  }
}
