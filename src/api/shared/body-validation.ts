import { Ajv, type ErrorObject } from "ajv";
import type { TSchema } from "typebox";
import { invalidRequest, type ApiError } from "../../errors.js";
import { tooDeep } from "./request-limits.js";

// One validator for request bodies, whether they come over HTTP or inside a WebSocket message, so
// both transports accept and reject exactly the same bodies with the same errors.
const ajv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });

export type BodyValidator = ((body: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** `maxDepth`: a body nested deeper fails before the schema is applied (request.maxJsonDepth). */
export function compileBodyValidator(schema: TSchema | object, maxDepth: number): BodyValidator {
  const validate = ajv.compile(schema);
  const checked: BodyValidator = (body) => {
    const field = tooDeep(body, maxDepth);
    if (field !== undefined) {
      checked.errors = [{ instancePath: `/${field}`, params: {}, message: `nests objects and arrays more than ${maxDepth} levels deep (request.maxJsonDepth)`, keyword: "maxDepth", schemaPath: "" }];
      return false;
    }
    const valid = validate(body);
    checked.errors = validate.errors;
    return valid;
  };
  return checked;
}

/** OpenAI's 400 for the first schema violation, with `param` in its style: messages[0].role. */
export function validationError(errors: readonly Pick<ErrorObject, "instancePath" | "params" | "message">[]): ApiError {
  const first = errors[0];
  if (!first) return invalidRequest("Invalid request body.");
  const missing = (first.params as { missingProperty?: string }).missingProperty;
  const path = first.instancePath.split("/").filter(Boolean);
  if (missing) path.push(missing);
  const param = path.reduce((acc, key) => (/^\d+$/.test(key) ? `${acc}[${key}]` : acc ? `${acc}.${key}` : key), "");
  const message = missing ? `Missing required parameter: '${param}'.` : `Invalid value for '${param || "body"}': ${first.message ?? "invalid"}.`;
  return invalidRequest(message, param || null, missing ? "missing_required_parameter" : "invalid_value");
}
