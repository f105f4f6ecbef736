/** An API error as plain data: what crosses a process boundary (an engine's events) and becomes an ApiError again. */
export interface ErrorData {
  status: number;
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

/** The status logged for a request whose client went away before its answer ended (nginx's 499). */
export const CLIENT_CLOSED = 499;

/** The one error type that reaches clients; the HTTP error handler turns it into OpenAI's error JSON. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** How long a client should wait before retrying (503, 429), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** Extra response headers (the rate-limit headers of a 429, say). */
  headers: Record<string, string> = {};

  toData(): ErrorData {
    return { status: this.status, message: this.message, type: this.type, code: this.code, param: this.param };
  }

  static fromData(data: ErrorData): ApiError {
    return new ApiError(data.status, data.message, data.type, data.code, data.param);
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, "invalid_request_error", code, param);

export const modelNotFound = (model: string, known: readonly string[]) =>
  new ApiError(404, `The model '${model}' does not exist. Available models: ${known.join(", ")}`, "invalid_request_error", "model_not_found", "model");

export const overloaded = (message: string, retryAfterMs: number) =>
  new ApiError(503, message, "server_error", "server_overloaded", null, retryAfterMs);

export const timedOut = (message: string) => new ApiError(503, message, "server_error", "request_timeout");

export const internalError = () => new ApiError(500, "The server had an error while processing your request.", "server_error", "internal_error");

export function toApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : internalError();
}

/**
 * A message for clients without the server's file system in it: every absolute path becomes its last part
 * (a model file's name, not where it lives). The whole message stays in the log.
 */
export function withoutPaths(message: string): string {
  return message.replace(/(?<![:\w/\\])(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+)+[\\/]([\w.@+~-]+)/g, "$1");
}

let reportInternal: (error: unknown) => void = () => {};

/** Where internal failures are logged in this process (the gateway's logger, or an engine process's log channel). */
export function reportInternalErrorsTo(report: (error: unknown) => void): void {
  reportInternal = report;
}

/** A generation that failed inside the engine: the client gets a plain 500, the log gets what happened. */
export function generationFailed(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  reportInternal(error);
  return new ApiError(500, "The engine failed while generating this answer.", "server_error", "generation_failed");
}
