import type { FastifyInstance, FastifyRequest } from "fastify";
import { bearerToken, type ApiKeys, type Identity } from "../auth/api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller, set by the authentication hook of the /v1 scope. */
    identity: Identity;
  }
}

/**
 * `Authorization: Bearer <key>`, or `x-api-key: <key>` as Anthropic's clients send it. Browsers cannot set
 * headers on a WebSocket upgrade, so /v1/ws also takes ?api_key=.
 */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  const bearer = bearerToken(request.headers.authorization) ?? (typeof header === "string" && header ? header : undefined);
  if (bearer || !request.url.startsWith("/v1/ws")) return bearer;
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.api_key === "string" ? query.api_key : undefined;
}

/** Requires a valid key on every route of `scope` (401 otherwise) and records who called. */
export function requireApiKey(scope: FastifyInstance, keys: ApiKeys): void {
  scope.decorateRequest("identity", null as unknown as Identity);
  scope.addHook("onRequest", async (request, reply) => {
    request.identity = keys.identify(presentedKey(request));
    if (keys.enabled) request.log = reply.log = request.log.child({ key: request.identity.name }); // Fastify logs completion with reply.log
  });
}

/** Request logs show the URL without a key passed in its query, however its name is spelled (api%5Fkey is api_key too). */
export function redactedUrl(url: string): string {
  const query = url.indexOf("?");
  if (query < 0) return url;
  const pairs = url.slice(query + 1).split("&").map((pair) => {
    const equals = pair.indexOf("=");
    if (equals < 0) return pair;
    const name = pair.slice(0, equals);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name.replaceAll("+", " "));
    } catch {
      // a malformed escape: judged as written
    }
    return decoded.trim().toLowerCase() === "api_key" ? `${name}=[redacted]` : pair;
  });
  return `${url.slice(0, query + 1)}${pairs.join("&")}`;
}
