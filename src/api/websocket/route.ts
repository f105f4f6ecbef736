import type { FastifyPluginAsync } from "fastify";
import type { GatewayConfig } from "../../config/schema.js";
import type { ApiContext } from "../context.js";
import { chatCompletionsEndpoint } from "../chat/route.js";
import { completionsEndpoint } from "../completions/route.js";
import type { GenerationEndpoint } from "../shared/endpoint.js";
import { SocketSession, socketEndpoints } from "./socket-session.js";

export interface WebSocketRouteOptions extends ApiContext {
  ws: GatewayConfig["ws"];
}

/** GET /v1/ws: multiplexed streaming chat and text completions over one socket (needs @fastify/websocket). */
export const webSocketRoute: FastifyPluginAsync<WebSocketRouteOptions> = async (app, { ws, ...context }) => {
  const endpoints = socketEndpoints([chatCompletionsEndpoint, completionsEndpoint] as GenerationEndpoint[]);
  app.get("/v1/ws", { websocket: true }, (socket, request) => {
    new SocketSession(socket, endpoints, context, ws, request.identity, request.log);
  });
};
