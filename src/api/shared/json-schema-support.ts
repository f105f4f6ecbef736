import { invalidRequest } from "../../errors.js";

// The JSON-schema keywords node-llama-cpp's grammar generator turns into constraints. Anything else would
// be silently ignored, so it is refused instead: structured output must mean what it says.
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
