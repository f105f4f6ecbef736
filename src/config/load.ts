import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { Value } from "typebox/value";
import { ConfigSchema, type GatewayConfig } from "./schema.js";
import { CONFIG_FLAG, MODEL_FLAG, SCALAR_SETTINGS, parseScalar } from "./settings.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Json = Record<string, unknown>;

export interface ConfigSources {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Extra values applied last (tests use it instead of flags). */
  overrides?: Json;
}

/** Defaults < config file < environment < command line < overrides; then validated as a whole. */
export function loadConfig({ argv = [], env = {}, overrides = {} }: ConfigSources = {}): GatewayConfig {
  const cli = parseCommandLine(argv);
  const configFile = cli.config ?? env[CONFIG_FLAG.env];
  const layers: Json[] = [
    configFile ? readConfigFile(configFile) : {},
    settingsFromEnv(env),
    cli.settings,
    overrides,
  ];
  const merged = layers.reduce((acc, layer) => deepMerge(acc, layer), {} as Json);
  return validateConfig(merged);
}

export function validateConfig(raw: unknown): GatewayConfig {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw ?? {}));
  if (Value.Check(ConfigSchema, withDefaults)) return withDefaults;
  throw new ConfigError(`invalid configuration:\n${describeErrors(withDefaults).join("\n")}`);
}

function parseCommandLine(argv: readonly string[]): { config?: string; settings: Json } {
  const options: Record<string, { type: "string"; multiple?: boolean }> = {
    [CONFIG_FLAG.flag]: { type: "string" },
    [MODEL_FLAG.flag]: { type: "string", multiple: true },
  };
  for (const s of SCALAR_SETTINGS) if (s.flag) options[s.flag] = { type: "string" };
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new ConfigError(`command line: ${(error as Error).message}`);
  }
  const settings: Json = {};
  for (const s of SCALAR_SETTINGS) {
    const raw = s.flag ? values[s.flag] : undefined;
    if (typeof raw === "string") setPath(settings, s.path, parseScalar(s, raw));
  }
  const models = values[MODEL_FLAG.flag];
  if (Array.isArray(models) && models.length > 0) settings.models = models.map((path) => ({ path }));
  const config = values[CONFIG_FLAG.flag];
  return { config: typeof config === "string" ? config : undefined, settings };
}

function settingsFromEnv(env: NodeJS.ProcessEnv): Json {
  const settings: Json = {};
  for (const s of SCALAR_SETTINGS) {
    const raw = env[s.env];
    if (raw !== undefined && raw !== "") setPath(settings, s.path, parseScalar(s, raw));
  }
  const models = env[MODEL_FLAG.env];
  if (models) settings.models = models.split(",").map((path) => ({ path: path.trim() })).filter((m) => m.path);
  return settings;
}

function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold an object`);
  return parsed as Json;
}

function describeErrors(value: unknown): string[] {
  const byPath = new Map<string, string[]>();
  for (const error of Value.Errors(ConfigSchema, value)) {
    if (error.keyword === "boolean") continue; // restated by the additionalProperties error of the parent
    const path = error.instancePath.replace(/^\//, "").replaceAll("/", ".") || "(root)";
    const messages = byPath.get(path) ?? [];
    if (error.keyword === "const") messages.push(`"${String(error.params.allowedValue)}"`);
    else if (error.keyword === "additionalProperties") {
      const extra = (error.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      messages.push(`unknown key(s): ${extra.join(", ")}`);
    } else if (error.keyword !== "anyOf") messages.push(error.message);
    byPath.set(path, messages);
  }
  return [...byPath].map(([path, messages]) => {
    const allowed = messages.filter((m) => m.startsWith('"'));
    const other = messages.filter((m) => !m.startsWith('"'));
    const parts = [...other, ...(allowed.length ? [`expected one of ${allowed.join(", ")}`] : [])];
    return `  ${path}: ${parts.join("; ")} (got ${JSON.stringify(valueAt(value, path))})`;
  });
}

function valueAt(root: unknown, dotted: string): unknown {
  if (dotted === "(root)") return "…";
  return dotted.split(".").reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Json)[key] : undefined), root);
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Json;
  node[path[path.length - 1]!] = value;
}

function deepMerge(base: Json, layer: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
