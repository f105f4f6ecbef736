import { ConfigSchema } from "./schema.js";
import { CONFIG_FLAG, MODEL_FLAG, SCALAR_SETTINGS } from "./settings.js";

// docs/configuration.md, generated from the config schema (every key, its type, default and description) and the
// settings table (its flag and environment variable), so the reference cannot drift from what the server accepts.
// `npm run docs:config` writes it; test/unit/configuration-reference.test.ts fails when it is out of date.

interface JsonSchema {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
}

const SECTIONS: Record<string, string> = {
  server: "Where the server listens.",
  http: "HTTP limits and timeouts of every connection.",
  ws: "The multiplexed WebSocket (`/v1/ws`).",
  auth: "API keys (see [limits.md](limits.md)).",
  rateLimit: "Requests and tokens per minute, per key, in memory or shared through Redis (see [limits.md](limits.md)).",
  responses: "The Responses API's stored responses (see [responses.md](responses.md)).",
  tracing: "OpenTelemetry traces (see [operations.md](operations.md)).",
  playground: "The chat playground at `/`.",
  docs: "The API's OpenAPI document (`/openapi.json`) and its explorer (`/docs`).",
  shutdown: "Graceful shutdown on SIGTERM / SIGINT.",
  request: "Limits on one request, checked before any work (see [security.md](security.md)).",
  queue: "The bounded queue in front of the slots.",
  engine: "How each local model runs; every key here except `isolation` may be set per model in `models[]` (see [models.md](models.md)).",
  models: "The models served: local files or remote upstreams.",
  upstream: "Remote OpenAI-compatible servers a model entry proxies to.",
  router: "Loading and unloading models on demand.",
  modelSearch: "Where a model is looked for when none is configured.",
  log: "Logs (pino).",
};

/** The whole page. */
export function configurationReference(): string {
  const schema = ConfigSchema as unknown as JsonSchema;
  const out = [
    "# Configuration reference",
    "",
    "Generated from `src/config/schema.ts` and `src/config/settings.ts` by `npm run docs:config`; a test fails when it is",
    "out of date. Precedence: defaults < config file (`--config`, YAML or JSON) < environment < flags. A bad value stops",
    "the server at start with the key's path and what was expected. [`config/default.yaml`](../config/default.yaml)",
    "holds the same defaults with longer notes.",
    "",
    "| flag | environment | what |",
    "|---|---|---|",
    `| \`--${CONFIG_FLAG.flag}\` | \`${CONFIG_FLAG.env}\` | ${CONFIG_FLAG.description} |`,
    `| \`--${MODEL_FLAG.flag}\` | \`${MODEL_FLAG.env}\` | ${MODEL_FLAG.description}; replaces \`models\` |`,
    "",
  ];
  for (const [section, sub] of Object.entries(schema.properties ?? {})) {
    out.push(`## \`${section}\``, "", SECTIONS[section] ?? sub.description ?? "", "");
    const rows = leaves(sub, [section]);
    out.push("| key | flag / environment | type | default | description |", "|---|---|---|---|---|");
    for (const row of rows) out.push(row);
    out.push("");
  }
  return `${out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}

/** One row per setting under `node`: objects are walked; arrays of objects get their item's fields as `key[].field`. */
function leaves(node: JsonSchema, path: string[]): string[] {
  if (node.type === "object" && node.properties && node.additionalProperties !== true) {
    return Object.entries(node.properties).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  if (node.type === "array" && node.items?.type === "object" && node.items.properties) {
    return [row(node, path), ...Object.entries(node.items.properties).flatMap(([key, child]) => leaves(child, [...path.slice(0, -1), `${path.at(-1)}[]`, key]))];
  }
  return [row(node, path)];
}

/** A model entry's field without a description of its own: the engine setting it overrides, where there is one. */
function describe(node: JsonSchema, path: string[]): string {
  if (node.description) return node.description;
  const engine = (ConfigSchema as unknown as JsonSchema).properties?.engine?.properties ?? {};
  const field = path.at(-1)!;
  if (path.length === 2 && path[0] === "models[]" && engine[field]) return `this model's \`engine.${field}\` (default: that value)`;
  if (path[0] === "models[]" && path[1] === "sampling") return `the default \`${field}\` for requests that omit it (over the GGUF's general.sampling.*)`;
  return "";
}

function row(node: JsonSchema, path: string[]): string {
  const key = path.join(".");
  const setting = SCALAR_SETTINGS.find((s) => s.path.join(".") === key);
  const switches = setting ? [setting.flag && `\`--${setting.flag}\``, `\`${setting.env}\``].filter(Boolean).join(" ") : "";
  const fallback = node.default === undefined ? "" : `\`${JSON.stringify(node.default)}\``;
  return `| \`${key}\` | ${switches} | ${typeOf(node)} | ${fallback} | ${cell(describe(node, path))} |`;
}

function typeOf(node: JsonSchema): string {
  if (node.anyOf) return node.anyOf.map(typeOf).join(" \\| ");
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.type === "integer" || node.type === "number") {
    const range = node.minimum !== undefined && node.maximum !== undefined ? ` ${node.minimum}–${node.maximum}` : node.minimum !== undefined ? ` ≥ ${node.minimum}` : "";
    return `${node.type}${range}`;
  }
  if (node.type === "array") return `list of ${node.items ? typeOf(node.items) : "values"}`;
  if (node.type === "object") return "object";
  return node.type ?? "any";
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");
