import fastifyCors from "@fastify/cors";
import type { FastifyInstance } from "fastify";
import type { OriginPolicy } from "../auth/origin-policy.js";

/** Response headers a browser page on another origin may read: the request id, retry hints and OpenAI's rate-limit headers. */
const EXPOSED_HEADERS = ["x-request-id", "retry-after", "retry-after-ms", ...["limit", "remaining", "reset"].flatMap((what) => ["requests", "tokens"].map((kind) => `x-ratelimit-${what}-${kind}`))];
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * CORS for every route (@fastify/cors): preflights answered for allowed origins with whatever request headers
 * the page asks for (the SDKs send their own), the headers above exposed, nothing for other origins (the
 * browser then blocks the call). Registered at the root, so a preflight is answered before the API-key check.
 */
export async function allowCrossOrigin(app: FastifyInstance, policy: OriginPolicy): Promise<void> {
  await app.register(fastifyCors, {
    origin: (origin, callback) => callback(null, origin !== undefined && policy.allows(origin)),
    methods: ["GET", "POST", "DELETE", "OPTIONS"],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
    strictPreflight: false,
  });
}
