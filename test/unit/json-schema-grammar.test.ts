import { describe, expect, it } from "vitest";
import { toGrammarSchema } from "../../src/engine/json-schema-grammar.js";

describe("toGrammarSchema", () => {
  it("rewrites what node-llama-cpp would turn into null, keeping JSON schema's meaning", () => {
    expect(toGrammarSchema({ anyOf: [{ type: "string" }, { type: "integer" }] })).toEqual({ oneOf: [{ type: "string" }, { type: "integer" }] });
    expect(toGrammarSchema({ type: "string", maxLength: 3, nullable: true })).toEqual({ oneOf: [{ type: "string", maxLength: 3 }, { type: "null" }] });
    expect(toGrammarSchema({ type: "object" })).toEqual({ type: "object", additionalProperties: true });
    expect(toGrammarSchema({ properties: { a: { type: "string" } } })).toEqual({ type: "object", properties: { a: { type: "string" } } });
    expect(toGrammarSchema({})).toMatchObject({ oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "array" }, { type: "object", additionalProperties: true }] });
  });

  it("rewrites nested schemas too", () => {
    const schema = { type: "object", properties: { list: { type: "array", items: { anyOf: [{ const: 1 }, { type: "object" }] } } }, $defs: { d: { nullable: true, type: "number" } } };
    expect(toGrammarSchema(schema)).toEqual({
      type: "object",
      properties: { list: { type: "array", items: { oneOf: [{ const: 1 }, { type: "object", additionalProperties: true }] } } },
      $defs: { d: { oneOf: [{ type: "number" }, { type: "null" }] } },
    });
  });
});
