// The request mixes of the benchmark. Each worker is one conversation; `request(i)` is its i-th request.

export type WorkloadName = "unique" | "multiturn" | "shared-prefix" | "grounded";

export interface BenchRequest {
  path: "/completions" | "/chat/completions";
  body: Record<string, unknown>;
}

export interface WorkloadOptions {
  promptWords: number;
  maxTokens: number;
}

const WORDS = "the little fox saw a big red ball in the park and ran to play with her friend under a tall green tree".split(" ");

/** Deterministic filler text, different for every seed, so prompts share no prefix by accident. */
export function fillerText(words: number, seed: number): string {
  const out: string[] = [`Story ${seed}:`];
  let x = seed * 2654435761;
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(WORDS[x % WORDS.length]!);
  }
  return out.join(" ");
}

export function workload(name: WorkloadName, worker: number, options: WorkloadOptions): (i: number) => BenchRequest {
  const common = { max_tokens: options.maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } };
  switch (name) {
    case "unique":
      return (i) => ({ path: "/completions", body: { ...common, prompt: fillerText(options.promptWords, worker * 10_000 + i) } });
    case "grounded":
      // Input-grounded (summaries, rewrites, code edits repeat the input): a text twice, then its start again, so a
      // model continues by copying it — what speculative lookup drafts from.
      return (i) => {
        const text = fillerText(options.promptWords, worker * 10_000 + i);
        return { path: "/completions", body: { ...common, prompt: `${text}\n\n${text}\n\n${text.split(" ").slice(0, 6).join(" ")}` } };
      };
    case "shared-prefix": {
      const system = fillerText(options.promptWords * 4, 424242); // one long system prompt for everybody
      return (i) => ({
        path: "/chat/completions",
        body: { ...common, messages: [{ role: "system", content: system }, { role: "user", content: fillerText(12, worker * 10_000 + i) }] },
      });
    }
    case "multiturn": {
      // Each request resends the whole conversation so far, as chat clients do.
      const history: { role: string; content: string }[] = [];
      return (i) => {
        if (i > 0) history.push({ role: "assistant", content: fillerText(options.maxTokens / 2, worker * 7 + i) });
        history.push({ role: "user", content: fillerText(options.promptWords / 2, worker * 10_000 + i) });
        return { path: "/chat/completions", body: { ...common, messages: [...history] } };
      };
    }
  }
}
