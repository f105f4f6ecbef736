import { describe, expect, it } from "vitest";
import { TextAssembler } from "../../src/engine/text-assembler.js";

// A toy detokenizer: token n is the n-th entry; entries may be partial UTF-8 bytes.
const PIECES: Record<number, Uint8Array> = {
  1: new TextEncoder().encode("Hello"),
  2: new TextEncoder().encode(" wor"),
  3: new TextEncoder().encode("ld"),
  4: new TextEncoder().encode("\n"),
  5: new TextEncoder().encode("User:"),
  6: new Uint8Array([0xf0, 0x9f]), // first half of 😀
  7: new Uint8Array([0x98, 0x80]), // second half of 😀
  8: new TextEncoder().encode("!"),
};
const detokenize = (tokens: readonly number[]) => {
  const bytes = tokens.flatMap((t) => [...PIECES[t]!]);
  return new TextDecoder().decode(new Uint8Array(bytes));
};

function run(tokens: number[], stops: string[]) {
  const assembler = new TextAssembler(detokenize, stops, []);
  const emitted: string[] = [];
  for (const token of tokens) {
    const { text, stopped } = assembler.push(token);
    if (text) emitted.push(text);
    if (stopped) return { emitted, stopped: true };
  }
  const rest = assembler.flush();
  if (rest) emitted.push(rest);
  return { emitted, stopped: false };
}

describe("TextAssembler", () => {
  it("streams each token's text as soon as it is complete", () => {
    expect(run([1, 2, 3], [])).toEqual({ emitted: ["Hello", " wor", "ld"], stopped: false });
  });

  it("holds a token that ends inside a multi-byte character until the character completes", () => {
    expect(run([1, 6, 7, 8], [])).toEqual({ emitted: ["Hello", "😀", "!"], stopped: false });
  });

  it("stops at a stop string and never sends any part of it", () => {
    const { emitted, stopped } = run([1, 4, 5, 2], ["\nUser:"]);
    expect(stopped).toBe(true);
    expect(emitted.join("")).toBe("Hello");
  });

  it("holds text that could start a stop string, and releases it when it does not", () => {
    const assembler = new TextAssembler(detokenize, ["\nUser:"], []);
    expect(assembler.push(1).text).toBe("Hello");
    expect(assembler.push(4).text).toBe(""); // "\n" may begin "\nUser:"
    expect(assembler.push(2).text).toBe("\n wor");
  });

  it("stops when a stop string spans several tokens", () => {
    const { emitted, stopped } = run([1, 2, 3, 8], ["world!"]);
    expect(stopped).toBe(true);
    expect(emitted.join("")).toBe("Hello ");
  });

  it("flushes held text at the end when no stop string matched", () => {
    const { emitted, stopped } = run([1, 4], ["\nUser:"]);
    expect(stopped).toBe(false);
    expect(emitted.join("")).toBe("Hello\n");
  });
});
