import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import type { GatewayConfig } from "../../config/schema.js";
import { ApiError, invalidRequest } from "../../errors.js";
import { validationError } from "./body-validation.js";

/** How an API writes an error: OpenAI's `{"error": {...}}` or Anthropic's `{"type": "error", "error": {...}}`. */
export type ErrorFormat = (error: Pick<ApiError, "status" | "message" | "type" | "param" | "code">) => object;

/** The only place that turns errors into JSON: OpenAI's shape everywhere, and 404 for unknown URLs. */
export function installErrorHandling(app: FastifyInstance, http: GatewayConfig["http"]): void {
  handleErrors(app, http, errorBody);
  app.setNotFoundHandler((request, reply) =>
    sendApiError(reply, new ApiError(404, `Unknown request URL: ${request.method} ${request.url.split("?")[0]}`, "invalid_request_error", "unknown_url")),
  );
}

/** Errors of the routes in `scope` (and of their hooks: authentication, rate limits) in `format`. */
export function handleErrors(scope: FastifyInstance, http: GatewayConfig["http"], format: ErrorFormat): void {
  scope.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      // Fastify answers before reading the body; a client still writing it would see a reset instead of the 413.
      await discardBody(request.raw, http.discardLimitBytes, http.discardTimeoutMs);
      reply.header("connection", "close");
      return sendApiError(reply, new ApiError(413, `Request body is too large: the limit is ${http.bodyLimit} bytes.`, "invalid_request_error", "request_too_large"), format);
    }
    const apiError = toClientError(error);
    request.record.errorType = apiError.code ?? apiError.type;
    // A refused caller (no key, too large, too slow) gets its answer and loses the connection: no socket kept open for it.
    if (apiError.status === 401 || apiError.status === 408 || apiError.status === 413) reply.header("connection", "close");
    if (apiError.status >= 500) request.log.error({ err: error }, "request failed");
    return sendApiError(reply, apiError, format);
  });
}

export function sendApiError(reply: FastifyReply, error: ApiError, format: ErrorFormat = errorBody): FastifyReply {
  reply.headers(error.headers);
  if (error.retryAfterMs !== undefined) {
    reply.header("retry-after", Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    reply.header("retry-after-ms", error.retryAfterMs);
  }
  return reply.code(error.status).type("application/json").send(format(error));
}

export function errorBody(error: Parameters<ErrorFormat>[0]) {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}

/** Anthropic's error types by HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status < 500 ? "invalid_request_error" : "api_error";
  }
}

export function anthropicErrorBody(error: Pick<ApiError, "status" | "message">) {
  return { type: "error", error: { type: anthropicErrorType(error.status), message: error.message } };
}

function toClientError(error: FastifyError): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation && error.validation.length > 0) return validationError(error.validation);
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidRequest("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.", null, "invalid_json");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(415, "Unsupported Content-Type: send application/json.", "invalid_request_error", "unsupported_media_type");
  }
  if (error instanceof SyntaxError) return invalidRequest("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.", null, "invalid_json");
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, error.message, "invalid_request_error", error.code ?? null);
  return new ApiError(500, "The server had an error while processing your request.", "server_error", "internal_error");
}

/** Reads and drops the rest of a request body, up to `limit` bytes or `timeoutMs`, whichever comes first. */
function discardBody(raw: IncomingMessage, limit: number, timeoutMs: number): Promise<void> {
  if (raw.readableEnded || raw.destroyed || Number(raw.headers["content-length"]) > limit) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off("data", onData).off("end", finish).off("close", finish).off("error", finish);
      raw.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    raw.on("data", onData).once("end", finish).once("close", finish).once("error", finish);
    raw.resume();
  });
}
