import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";

/** GET /metrics: Prometheus text format, unauthenticated like the health probes (bind or firewall it as needed). */
export const metricsRoute: FastifyPluginAsync<ApiContext> = async (app, { metrics }) => {
  app.get("/metrics", async (_, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
