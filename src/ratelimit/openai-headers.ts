import { msUntil, type BucketLevel } from "./bucket-store.js";

/** OpenAI's duration format for x-ratelimit-reset-*: "120ms", "17.5s", "6m0s". */
export function formatResetDuration(ms: number): string {
  if (ms < 1_000) return `${Math.ceil(ms)}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000) / 100) / 10;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

/** The x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers for one bucket. */
export function rateLimitHeaders(kind: "requests" | "tokens", { level, capacity }: BucketLevel): Record<string, string> {
  return {
    [`x-ratelimit-limit-${kind}`]: String(capacity),
    [`x-ratelimit-remaining-${kind}`]: String(Math.max(0, Math.floor(level))),
    [`x-ratelimit-reset-${kind}`]: formatResetDuration(msUntil(capacity, level, capacity)),
  };
}
