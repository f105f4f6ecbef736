import { describe, expect, it } from "vitest";
import { asFixture } from "../tools/record-requests.js";

describe("a recorded request as a fixture", () => {
  it("keeps every field and schema, cuts long texts, zeroes ids and names the model MODEL", () => {
    const long = "You are an agent. ".repeat(20);
    const body = {
      model: "claude-sonnet",
      system: [{ type: "text", text: long, cache_control: { type: "ephemeral" } }],
      tools: [{ name: "Read", description: long, input_schema: { type: "object", properties: { limit: { type: "integer", minimum: 1 } } } }],
      metadata: { user_id: '{"device_id":"915f2f8ffa9d3903216dba3879f94a1c06813cbe70383639f13470a5bf74068d","session_id":"39e6d407-08c0-4912-9bc3-753102f35b4e"}' },
      messages: [{ role: "user", content: "say hi" }],
    };
    const fixture = asFixture(body) as typeof body;
    expect(fixture.model).toBe("MODEL");
    expect(fixture.system[0]!.text).toBe(`${long.slice(0, 100).trimEnd()} [...]`);
    expect(fixture.system[0]!.cache_control).toEqual({ type: "ephemeral" });
    expect(fixture.tools[0]!.input_schema).toEqual(body.tools[0]!.input_schema);
    expect(fixture.tools[0]!.description.length).toBeLessThan(120);
    expect(fixture.messages).toEqual(body.messages);
    expect(fixture.metadata.user_id).toBe(`{"device_id":"${"0".repeat(64)}","session_id":"00000000-0000-4000-8000-000000000000"}`);
  });
});
