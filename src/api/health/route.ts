import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";

export const healthRoute: FastifyPluginAsync<ApiContext> = async (app, { models }) => {
  app.get("/health", async () => ({
    status: "ok",
    rateLimiter: app.access.limiter.state(),
    models: Object.fromEntries(models.all().map((engine) => [engine.description.id, engine.stats()])),
  }));
};
