import type { LlamaContext } from "node-llama-cpp";

// node-llama-cpp gives a context one thread count for every decode. With the prebuilt binaries (no OpenMP,
// no persistent thread pool) single-token decodes collapse above one thread per context (spin barriers: see
// ../shared/notes/engine-performance.md), while a prompt batch has few barriers per token and scales with
// cores: a 1,752-token prompt on the 57M model took 2.75 s at 1 thread and 1.48 s at 2 on 2 vCPUs.
// So a context's prompt batches get the cores no other slot is using, and its generation keeps its threads.
//
// Cores lent to a prompt batch stay lent until the batch ends: a slot that starts meanwhile waits for it
// rather than decode beside it. Beside it, the batch's threads would spin at every barrier for a thread
// the OS has put aside: on 2 vCPUs, four short prompts arriving together held the first one's 5-token
// batch (2 threads) for 0.2-2.5 s behind the three others' single-thread decodes.

// A batch this short runs on the context's own threads: the extra threads save at most a few ms (57M model, 2
// vCPUs, median of 7: 16 tokens 21 ms on 1 thread, 14-28 ms on 2; 64 tokens 73 ms against 47-51 ms), and where
// a core is not as idle as it looks (another process), their barriers stall: under two busy loops a 5-token
// prompt on 2 threads took 1.6 s.
export const MIN_BORROWING_BATCH = 64;

interface NativeContext {
  initBatch(size: number): void;
  decodeBatch(): Promise<void>;
  setThreads(threads: number): void;
}

/** The cores of one engine's contexts, and the prompt batch (at most one) that runs on borrowed ones. */
export class CoreLending {
  private readonly running = new Map<object, number>(); // context -> threads of its decode in flight
  private lent?: { borrower: object; threads: number };
  private ended = signal(); // a decode ended: a slot that waits looks again

  constructor(private readonly cpus: number) {}

  /**
   * Runs one decode of `context`: with `wanted()` threads where that many cores are free (more than
   * `ownThreads` only for one context at a time), after any batch whose borrowed cores it would need.
   */
  async decode(context: object, ownThreads: number, wanted: () => number, run: (threads: number) => Promise<void>): Promise<void> {
    while (this.lent && this.lent.borrower !== context && this.threadsBesides(this.lent.borrower) + ownThreads > this.cpus - this.lent.threads) await this.ended.next;
    const free = this.cpus - this.threadsBesides(context);
    const threads = this.lent ? ownThreads : Math.max(ownThreads, Math.min(wanted(), free));
    this.running.set(context, threads);
    if (threads > ownThreads) this.lent = { borrower: context, threads };
    try {
      await run(threads);
    } finally {
      this.running.delete(context);
      if (this.lent?.borrower === context) this.lent = undefined;
      const ended = this.ended;
      this.ended = signal();
      ended.fire();
    }
  }

  /** Threads of the decodes in flight on contexts other than `context`. */
  private threadsBesides(context: object): number {
    let threads = 0;
    for (const [other, count] of this.running) if (other !== context) threads += count;
    return threads;
  }
}

function signal(): { next: Promise<void>; fire(): void } {
  let fire!: () => void;
  const next = new Promise<void>((resolve) => (fire = resolve));
  return { next, fire };
}

/**
 * Makes `context` (one sequence: a batch of more than one token is prompt) decode prompt batches of at least
 * MIN_BORROWING_BATCH tokens with `promptThreads()` threads, as far as `cores` has them free, and everything
 * else with `generationThreads`.
 * It wraps node-llama-cpp's native context object, an internal of node-llama-cpp 3.x; where that is not
 * there, it does nothing and says so.
 */
export function threadsByPhase(context: LlamaContext, generationThreads: number, promptThreads: () => number, cores: CoreLending): boolean {
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
    replace("decodeBatch", () =>
      cores.decode(native, generationThreads, () => (batchTokens >= MIN_BORROWING_BATCH ? promptThreads() : generationThreads), (threads) => {
        if (threads !== current) setThreads((current = threads));
        return decodeBatch();
      }),
    );
    return true;
  } catch {
    for (const name of ["initBatch", "setThreads", "decodeBatch"]) delete (native as Record<string, unknown>)[name];
    return false;
  }
}
