import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { ApiError } from "../../errors.js";
import type { OriginPolicy } from "../../auth/origin-policy.js";
import type { GatewayConfig } from "../../config/schema.js";
import type { ApiContext } from "../context.js";
import type { GenerationEndpoint } from "../shared/endpoint.js";
import type { Tracing } from "../../observability/tracing.js";
import { SocketSession, socketEndpoints } from "./socket-session.js";

export interface WebSocketRouteOptions extends ApiContext {
  ws: GatewayConfig["ws"];
  origins: OriginPolicy;
  /** The generation endpoints a socket may call, each by its messageType. */
  endpoints: readonly GenerationEndpoint[];
  tracing: Tracing | undefined;
}

/** GET /v1/ws: multiplexed streaming generations of every endpoint over one socket (needs @fastify/websocket). */
export const webSocketRoute: FastifyPluginAsync<WebSocketRouteOptions> = async (app, { ws, origins, endpoints: served, tracing, ...context }) => {
  const endpoints = socketEndpoints(served, context.limits.maxJsonDepth);
  // Browsers let any page open a WebSocket to any host (no CORS): a page from an origin that may not call the
  // API is refused at the upgrade. Clients that send no Origin (Node, Python, curl) are not browsers.
  const checkOrigin = async (request: FastifyRequest) => {
    if (!origins.admits(request)) throw new ApiError(403, `Origin ${request.headers.origin} may not open this WebSocket (http.corsOrigins).`, "invalid_request_error", "origin_not_allowed");
  };
  app.get("/v1/ws", { websocket: true, onRequest: checkOrigin }, (socket, request) => {
    // Each request on the socket is a span of its own, child of the trace the upgrade request carried (if any).
    const trace = tracing && ((messageType: string) => tracing.startRequest(`WS ${messageType}`, request.headers, { "llm_gateway.ws.message_type": messageType }));
    new SocketSession(socket, endpoints, context, ws, request.identity, request.log, trace || undefined);
  });
};
