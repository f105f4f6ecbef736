import { describe, expect, it } from "vitest";
import { checkChat, checkGrammar, grammarDepth, tooDeep } from "../../src/api/shared/request-limits.js";
import { compileBodyValidator, validationError } from "../../src/api/shared/body-validation.js";
import { redactedUrl } from "../../src/server/authentication.js";
import { HostPolicy } from "../../src/auth/host-policy.js";
import { withoutPaths } from "../../src/errors.js";

const nested = (depth: number): unknown => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

describe("request limits checked before any work", () => {
  it("finds the field under which a body nests too deep, without recursion (100,000 levels)", () => {
    expect(tooDeep({ model: "m", chat_template_kwargs: nested(10) }, 64)).toBeUndefined();
    expect(tooDeep({ model: "m", chat_template_kwargs: nested(100_000) }, 64)).toBe("chat_template_kwargs");
    expect(tooDeep({ tools: [[[{}]]] }, 4)).toBe("tools"); // the body, the array, two arrays, the object: 5 levels
    expect(tooDeep({ tools: [[{}]] }, 4)).toBeUndefined();
  });

  it("refuses a too-deep body in the validator with a 400 naming the field", () => {
    const validate = compileBodyValidator({ type: "object" }, 64);
    expect(validate({ response_format: nested(1_000) })).toBe(false);
    const error = validationError(validate.errors!);
    expect(error.status).toBe(400);
    expect(error.param).toBe("response_format");
    expect(error.message).toContain("64 levels");
  });

  it("measures GBNF group nesting outside strings, character classes and comments", () => {
    expect(grammarDepth('root ::= "a" | ("b" ("c"))')).toBe(2);
    expect(grammarDepth('root ::= "(((((" [(((] # ((((\n')).toBe(1);
    expect(grammarDepth(`root ::= ${"(".repeat(32_000)}"x"${")".repeat(32_000)}`)).toBe(32_000);
    expect(() => checkGrammar(`root ::= ${"(".repeat(300)}"x"${")".repeat(300)}`, 256)).toThrow(/300 levels/);
    expect(() => checkGrammar('root ::= ("a")*', 256)).not.toThrow();
  });

  it("refuses more messages than the limit and template arguments that replace the server's own", () => {
    expect(() => checkChat({ messages: new Array(5).fill({}) }, 4)).toThrow(/at most 4/);
    expect(() => checkChat({ messages: [{}], templateArgs: { messages: [] } }, 4)).toThrow(/'messages' is set by the server/);
    expect(() => checkChat({ messages: [{}], templateArgs: { enable_thinking: false } }, 4)).not.toThrow();
  });
});

describe("what leaves the server", () => {
  it("redacts a key in a logged URL however its name is encoded", () => {
    expect(redactedUrl("/v1/ws?api_key=sk-1&x=2")).toBe("/v1/ws?api_key=[redacted]&x=2");
    expect(redactedUrl("/v1/ws?api%5Fkey=sk-1")).toBe("/v1/ws?api%5Fkey=[redacted]");
    expect(redactedUrl("/v1/ws?API_KEY=sk-1")).toBe("/v1/ws?API_KEY=[redacted]");
    expect(redactedUrl("/v1/models")).toBe("/v1/models");
  });

  it("keeps file system paths out of client-facing messages", () => {
    expect(withoutPaths("failed to load model from file /srv/models/secret/llama.gguf")).toBe("failed to load model from file llama.gguf");
    expect(withoutPaths("upstream http://10.0.0.1/v1 down")).toBe("upstream http://10.0.0.1/v1 down");
  });

  it("answers only loopback names when open on loopback (DNS rebinding), any Host behind keys or beyond loopback", () => {
    const open = new HostPolicy("", true, false);
    for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "app.localhost"]) expect(open.admits(host)).toBe(true);
    expect(open.admits("attacker.example:8080")).toBe(false);
    expect(new HostPolicy("", true, true).admits("attacker.example")).toBe(true);
    expect(new HostPolicy("", false, false).admits("10.0.0.5:8080")).toBe(true);
    const proxied = new HostPolicy("gateway.internal,*.corp.example", false, false);
    expect(proxied.admits("gateway.internal:443")).toBe(true);
    expect(proxied.admits("llm.corp.example")).toBe(true);
    expect(proxied.admits("attacker.example")).toBe(false);
  });
});
