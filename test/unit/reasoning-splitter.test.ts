import { describe, expect, it } from "vitest";
import { ReasoningSplitter, startingWith } from "../../src/engine/reasoning.js";
import type { LlamaGrammarEvaluationState } from "node-llama-cpp";
import { GrammarAfter } from "../../src/engine/generation.js";
import type { GenerationEvent } from "../../src/engine/types.js";

const joined = (pieces: { type: string; text: string }[]) =>
  pieces.reduce<{ reasoning: string; text: string }>((acc, p) => ({ ...acc, [p.type]: acc[p.type as "text"] + p.text }), { reasoning: "", text: "" });

describe("ReasoningSplitter", () => {
  it("splits at markers that arrive cut into pieces, never letting part of a marker through", () => {
    const splitter = new ReasoningSplitter({ prefix: "<think>", suffix: "</think>" }, false);
    const pieces = ["<th", "ink>let me", " see</", "thi", "nk>\n\nThe ", "answer."].flatMap((chunk) => splitter.push(chunk));
    pieces.push(...splitter.flush());
    expect(pieces.every((p) => !p.text.includes("<") && !p.text.includes(">"))).toBe(true);
    expect(joined(pieces)).toEqual({ reasoning: "let me see", text: "The answer." });
  });

  it("starts inside the block when the template opened it, and gives back a partial marker that was not one", () => {
    const splitter = new ReasoningSplitter({ prefix: "<think>", suffix: "</think>" }, true);
    const pieces = [...splitter.push("a < b </thin"), ...splitter.push("g> done</think>ok")];
    pieces.push(...splitter.flush());
    expect(joined(pieces)).toEqual({ reasoning: "a < b </thing> done", text: "ok" });
  });

  it("holds a trailing partial marker until the end, then lets it out as text", () => {
    const splitter = new ReasoningSplitter({ prefix: "<think>", suffix: "</think>" }, false);
    expect(splitter.push("x <thi")).toEqual([{ type: "text", text: "x " }]);
    expect(splitter.flush()).toEqual([{ type: "text", text: "<thi" }]);
  });
});

describe("startingWith", () => {
  it("puts the opening marker in front of the first text, not in an event of its own", async () => {
    async function* events(): AsyncGenerator<GenerationEvent> {
      yield { type: "text", text: "hmm" };
      yield { type: "text", text: "</think>yes" };
      yield { type: "done", finishReason: "stop", usage: { promptTokens: 1, cachedTokens: 0, completionTokens: 2 } };
    }
    const out: GenerationEvent[] = [];
    for await (const event of startingWith("<think>\n", events())) out.push(event);
    expect(out.map((e) => (e.type === "text" ? e.text : e.type))).toEqual(["<think>\nhmm", "</think>yes", "done"]);
  });
});

describe("a grammar that waits for the end of the thinking block (GrammarAfter)", () => {
  const state = {} as LlamaGrammarEvaluationState;

  it("applies from the text after the marker, also when the marker arrives split across tokens", () => {
    const after = new GrammarAfter(state, "</think>");
    expect(after.state()).toBeUndefined();
    for (const piece of ["Let me think", " about </", "thi"]) {
      after.read(piece);
      expect(after.state()).toBeUndefined();
    }
    after.read("nk>\n");
    expect(after.state()).toBe(state);
    after.read("{");
    expect(after.state()).toBe(state);
  });

  it("applies from the first token without a marker", () => {
    expect(new GrammarAfter(state, undefined).state()).toBe(state);
  });
});
