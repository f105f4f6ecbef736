import { describe, expect, it } from "vitest";
import { ForcedCallReader, forcedCallConstraint } from "../../src/engine/tools/forced-calls.js";
import type { GenerationEvent, ToolUse } from "../../src/engine/types.js";

function read(reader: ForcedCallReader, text: string, pieceSize: number) {
  const events: GenerationEvent[] = [];
  for (let i = 0; i < text.length; i += pieceSize) events.push(...reader.push(text.slice(i, i + pieceSize)));
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const e of events) {
    if (e.type === "tool_call") calls[e.index] = { id: e.id, name: e.name, arguments: "" };
    else if (e.type === "tool_arguments") calls[e.index]!.arguments += e.text;
  }
  return calls;
}

const tools: ToolUse["tools"] = [{ name: "a", parameters: { type: "object", properties: { q: { type: "string" } } } }, { name: "b" }];

describe("ForcedCallReader", () => {
  it.each([1, 3, 1000])("reads parallel calls from a streamed array, braces inside strings included (pieces of %i)", (size) => {
    const text = '[ {"name": "a", "arguments": { "q": "x}{\\"]" } },\n {"name":"b","arguments":{}} ]';
    const calls = read(new ForcedCallReader({ kind: "array" }), text, size);
    expect(calls.map((c) => [c.name, c.arguments])).toEqual([["a", '{ "q": "x}{\\"]" }'], ["b", "{}"]]);
    expect(JSON.parse(calls[0]!.arguments)).toEqual({ q: 'x}{"]' });
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
  });

  it("reads a single call object, and a named function's bare arguments", () => {
    expect(read(new ForcedCallReader({ kind: "object" }), '{ "name": "b", "arguments": { "k": [1, {"z": 2}] } }\n', 2).map((c) => [c.name, c.arguments])).toEqual([["b", '{ "k": [1, {"z": 2}] }']]);
    expect(read(new ForcedCallReader({ kind: "arguments", name: "a" }), '  { "q": "hi" }\n\n', 4).map((c) => [c.name, c.arguments])).toEqual([["a", '{ "q": "hi" }']]);
  });

  it("constrains the answer to the named function's schema, or to calls of the offered functions", () => {
    expect(forcedCallConstraint({ tools, choice: { mode: "function", name: "a" }, parallel: true })).toEqual({ kind: "json_schema", schema: tools[0]!.parameters });
    const single = forcedCallConstraint({ tools, choice: { mode: "required" }, parallel: false });
    expect(single).toMatchObject({ schema: { anyOf: [{ properties: { name: { const: "a" } } }, { properties: { name: { const: "b" }, arguments: { type: "object", properties: {} } } }] } });
    expect(forcedCallConstraint({ tools, choice: { mode: "required" }, parallel: true })).toMatchObject({ schema: { type: "array", minItems: 1 } });
  });
});
