// node-llama-cpp's JSON-schema grammar reads a subset of JSON schema and turns anything it does not read
// into `null`. This rewrites the common spellings it misses into ones it reads, with JSON schema's meaning:
// anyOf as oneOf, `nullable` as a union with null, an object without `properties` as any object, a schema without a type as any value.

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === "object" && value !== null && !Array.isArray(value);
const ANY_OBJECT: Schema = { type: "object", additionalProperties: true };
const ANY_VALUE: Schema = { oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "array" }, ANY_OBJECT] };

export function toGrammarSchema(schema: unknown): Schema {
  if (!isSchema(schema)) return ANY_VALUE;
  const out: Schema = { ...schema };
  if (Array.isArray(out.anyOf)) {
    out.oneOf = out.anyOf;
    delete out.anyOf;
  }
  if (out.type === undefined && isSchema(out.properties)) out.type = "object";
  const constrained = ["type", "const", "enum", "oneOf", "$ref"].some((key) => out[key] !== undefined);
  if (!constrained) return { ...ANY_VALUE, ...(out.$defs ? { $defs: mapValues(out.$defs as Schema) } : {}) };
  if (out.nullable === true) {
    // As a union of two schemas, so the non-null one keeps its own constraints (a type list would drop maxLength).
    delete out.nullable;
    return { oneOf: [toGrammarSchema(out), { type: "null" }] };
  }
  delete out.nullable;
  if (out.type === "object" && !isSchema(out.properties) && out.additionalProperties === undefined) out.additionalProperties = true;
  if (isSchema(out.properties)) out.properties = mapValues(out.properties);
  for (const key of ["$defs", "definitions"]) if (isSchema(out[key])) out[key] = mapValues(out[key]);
  if (isSchema(out.items)) out.items = toGrammarSchema(out.items);
  if (isSchema(out.additionalProperties)) out.additionalProperties = toGrammarSchema(out.additionalProperties);
  for (const key of ["oneOf", "prefixItems"]) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(toGrammarSchema);
  return out;
}

function mapValues(schemas: Schema): Schema {
  return Object.fromEntries(Object.entries(schemas).map(([name, sub]) => [name, toGrammarSchema(sub)]));
}
