import { createServer } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

// Records what a real client sends, to keep as a fixture (test/fixtures/agents): point the client's base URL at
// this server, let it send its first request, and each request is written as JSON (method, URL, headers, body),
// then answered with a 400 in the API's own error shape so that the client stops. Long texts (system prompts, tool
// descriptions) are cut to their first 100 characters and ids replaced, so a fixture keeps every field and schema
// the client sends but neither its vendor's prose nor a machine's identifiers.
//
//   npx tsx test/tools/record-requests.ts --port 18081 --out /tmp/captured
//   ANTHROPIC_BASE_URL=http://127.0.0.1:18081 ANTHROPIC_AUTH_TOKEN=none claude -p "say hi" --model MODEL
//   (Codex: base_url = "http://127.0.0.1:18081/v1" in its model provider, then `codex exec "say hi"`)

const TEXT_KEYS = new Set(["text", "description", "content", "instructions"]);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const LONG_HEX = /\b[0-9a-f]{32,}\b/gi;

/** A request body as a fixture: long texts cut, uuids and long hex ids zeroed, the model named MODEL. */
export function asFixture(body: unknown): unknown {
  const clip = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => clip(item, key));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clip(v, k)]));
    if (typeof value !== "string") return value;
    const text = key !== undefined && TEXT_KEYS.has(key) && value.length > 160 ? `${value.slice(0, 100).trimEnd()} [...]` : value;
    return text.replace(UUID, "00000000-0000-4000-8000-000000000000").replace(LONG_HEX, (hex) => "0".repeat(hex.length));
  };
  const fixture = clip(body) as Record<string, unknown>;
  return typeof fixture.model === "string" ? { ...fixture, model: "MODEL" } : fixture;
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: "string", default: "18081" }, out: { type: "string", default: "captured" } } });
  mkdirSync(values.out, { recursive: true });
  let count = 0;
  createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    request.on("end", () => {
      const file = join(values.out, `request-${++count}.json`);
      const body = raw ? (JSON.parse(raw) as unknown) : null;
      writeFileSync(file, JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body: asFixture(body) }, null, 1));
      console.log(`${request.method} ${request.url} -> ${file}`);
      const anthropic = request.url?.includes("/messages");
      response.writeHead(400, { "content-type": "application/json" });
      const message = "recorded by test/tools/record-requests.ts";
      response.end(JSON.stringify(anthropic ? { type: "error", error: { type: "invalid_request_error", message } } : { error: { message, type: "invalid_request_error", param: null, code: null } }));
    });
  }).listen(Number(values.port), "127.0.0.1", () => console.log(`recording on http://127.0.0.1:${values.port}`));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) main();
