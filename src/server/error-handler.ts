import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import type { GatewayConfig } from "../config/schema.js";
import { ApiError, invalidRequest } from "../errors.js";
import { validationError } from "../api/shared/body-validation.js";

/** The only place that turns errors into OpenAI's `{"error": {...}}` JSON. */
export function installErrorHandling(app: FastifyInstance, http: GatewayConfig["http"]): void {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      // Fastify answers before reading the body; a client still writing it would see a reset instead of the 413.
      await discardBody(request.raw, http.discardLimitBytes, http.discardTimeoutMs);
      reply.header("connection", "close");
      return sendApiError(reply, new ApiError(413, `Request body is too large: the limit is ${http.bodyLimit} bytes.`, "invalid_request_error", "request_too_large"));
    }
    const apiError = toClientError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, "request failed");
    return sendApiError(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendApiError(reply, new ApiError(404, `Unknown request URL: ${request.method} ${request.url.split("?")[0]}`, "invalid_request_error", "unknown_url")),
  );
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  reply.headers(error.headers);
  if (error.retryAfterMs !== undefined) {
    reply.header("retry-after", Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    reply.header("retry-after-ms", error.retryAfterMs);
  }
  return reply.code(error.status).type("application/json").send(errorBody(error));
}

export function errorBody(error: ApiError) {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
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
