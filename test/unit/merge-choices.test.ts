import { describe, expect, it } from "vitest";
import { mergeChoices } from "../../src/api/shared/choices.js";
import type { GenerationEvent } from "../../src/engine/types.js";

const usage = (completionTokens: number) => ({ promptTokens: 7, cachedTokens: 2, completionTokens });

async function* choice(events: GenerationEvent[], closed: string[], name: string): AsyncGenerator<GenerationEvent> {
  try {
    for (const event of events) {
      await new Promise((r) => setTimeout(r, 1));
      yield event;
    }
  } finally {
    closed.push(name);
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("mergeChoices", () => {
  it("tags each choice's events, finishes each, and counts the prompt once in the final usage", async () => {
    const closed: string[] = [];
    const events = await collect(
      mergeChoices([
        choice([{ type: "text", text: "a" }, { type: "done", finishReason: "stop", usage: usage(1) }], closed, "0"),
        choice([{ type: "text", text: "b" }, { type: "text", text: "c" }, { type: "done", finishReason: "length", usage: usage(2) }], closed, "1"),
      ]),
    );
    expect(events.filter((e) => e.type === "finish")).toEqual([
      { type: "finish", index: 0, finishReason: "stop" },
      { type: "finish", index: 1, finishReason: "length" },
    ]);
    expect(events.filter((e) => e.type === "choice").map((e) => e.type === "choice" && [e.index, e.event.type === "text" && e.event.text])).toEqual(expect.arrayContaining([[0, "a"], [1, "b"], [1, "c"]]));
    expect(events.at(-1)).toEqual({ type: "done", usage: { promptTokens: 7, cachedTokens: 2, completionTokens: 3 } });
    expect(closed.sort()).toEqual(["0", "1"]);
  });

  it("ends the answer at a choice's error and closes the other choices", async () => {
    const closed: string[] = [];
    const error = { status: 500, message: "boom", type: "server_error", code: null, param: null };
    const events = await collect(
      mergeChoices([
        choice(Array.from({ length: 50 }, () => ({ type: "text", text: "x" })), closed, "long"),
        choice([{ type: "error", error }], closed, "failing"),
      ]),
    );
    expect(events.at(-1)).toEqual({ type: "error", error });
    expect(events.some((e) => e.type === "done")).toBe(false);
    expect(closed.sort()).toEqual(["failing", "long"]);
  });

  it("gives no done when a choice ends without one (it was cancelled)", async () => {
    const events = await collect(mergeChoices([choice([{ type: "text", text: "a" }], [], "0")]));
    expect(events.map((e) => e.type)).toEqual(["choice"]);
  });
});
