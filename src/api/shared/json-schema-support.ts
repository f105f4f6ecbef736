import { invalidRequest } from "../../errors.js";

// The JSON-schema keywords node-llama-cpp's grammar generator turns into constraints. Anything else would be
// silently ignored: in response_format it is refused (structured output must mean what it says); in a tool's
// parameters it is relaxed (agents send minimum, pattern, allOf... for tools the model may call or not: the
// grammar enforces what it can and the rest stays in the schema the prompt shows).
const SUPPORTED = new Set([
  "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
  "enum", "const", "oneOf", "anyOf", "$ref", "$defs", "definitions", "format", "minLength", "maxLength",
  "description", "title", "default", "examples", "$schema", "$id", "$comment", "nullable",
]);
const SUBSCHEMA_MAPS = ["properties", "$defs", "definitions"];
const SUBSCHEMAS = ["items", "additionalProperties"];
const SUBSCHEMA_LISTS = ["oneOf", "anyOf", "prefixItems"];

/** Throws a 400 naming the first unsupported keyword and where it is. */
export function checkSupportedSchema(schema: unknown, path: string): void {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return;
  for (const [key, value] of Object.entries(schema)) {
    if (!SUPPORTED.has(key)) throw invalidRequest(`Unsupported JSON-schema keyword '${key}' at ${path}. Supported: ${[...SUPPORTED].join(", ")}.`, path, "unsupported_schema");
    if (SUBSCHEMA_MAPS.includes(key) && value && typeof value === "object") for (const [name, sub] of Object.entries(value)) checkSupportedSchema(sub, `${path}.${key}.${name}`);
    if (SUBSCHEMAS.includes(key)) checkSupportedSchema(value, `${path}.${key}`);
    if (SUBSCHEMA_LISTS.includes(key) && Array.isArray(value)) value.forEach((sub, i) => checkSupportedSchema(sub, `${path}.${key}[${i}]`));
  }
}

type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The part of a schema a grammar can enforce: unsupported keywords dropped, `allOf` of object schemas merged
 * (properties and required joined). `relaxed` says what was dropped, where: "offset: minimum".
 */
export function enforceableSchema(schema: unknown, path = ""): { schema: Schema; relaxed: string[] } {
  const relaxed: string[] = [];
  const walk = (node: unknown, at: string): unknown => {
    if (!isSchema(node)) return node;
    let source = node;
    if (Array.isArray(node.allOf)) {
      const merged = mergeAllOf(node);
      if (merged) source = merged;
    }
    const out: Schema = {};
    for (const [key, value] of Object.entries(source)) {
      if (!SUPPORTED.has(key)) {
        relaxed.push(`${at || "(root)"}: ${key} ${JSON.stringify(value).slice(0, 60)}`);
        continue;
      }
      if (SUBSCHEMA_MAPS.includes(key) && isSchema(value)) out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, walk(sub, at ? `${at}.${name}` : name)]));
      else if (SUBSCHEMAS.includes(key)) out[key] = walk(value, `${at}[]`);
      else if (SUBSCHEMA_LISTS.includes(key) && Array.isArray(value)) out[key] = value.map((sub) => walk(sub, at));
      else out[key] = value;
    }
    return out;
  };
  return { schema: (walk(schema, path) as Schema | undefined) ?? {}, relaxed };
}

/** `allOf` folded into its schema when every part is a plain object schema; undefined when it cannot be. */
function mergeAllOf(node: Schema): Schema | undefined {
  const parts = node.allOf as unknown[];
  if (!parts.every((part) => isSchema(part) && (part.type === undefined || part.type === "object") && !("$ref" in part))) return undefined;
  const { allOf: _, ...rest } = node;
  const merged: Schema = { ...rest, properties: { ...(isSchema(rest.properties) ? rest.properties : {}) }, required: [...(Array.isArray(rest.required) ? rest.required : [])] };
  for (const part of parts as Schema[]) {
    Object.assign(merged.properties as Schema, isSchema(part.properties) ? part.properties : {});
    if (Array.isArray(part.required)) (merged.required as unknown[]).push(...part.required.filter((name) => !(merged.required as unknown[]).includes(name)));
  }
  if (Object.keys(merged.properties as Schema).length > 0 || merged.type === "object") merged.type = "object";
  if ((merged.required as unknown[]).length === 0) delete merged.required;
  return merged;
}
