import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { ApiError, invalidRequest } from "../errors.js";
import { validationError } from "../api/shared/body-validation.js";

/** The only place that turns errors into OpenAI's `{"error": {...}}` JSON. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
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
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError(413, `Request body is too large (limit ${error.message.match(/\d+/)?.[0] ?? "?"} bytes).`, "invalid_request_error", "request_too_large");
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
