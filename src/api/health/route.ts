import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";
import { ManagedModel } from "../../router/managed-model.js";

/**
 * GET /health: the process is alive (liveness). GET /ready: this instance should get traffic
 * (readiness): every model loaded, not shutting down, and the rate limiter usable. Both are cheap and
 * need no key.
 */
export const healthRoute: FastifyPluginAsync<ApiContext> = async (app, { models, lifecycle }) => {
  app.get("/health", async () => ({
    status: "ok",
    rateLimiter: app.access.limiter.state(),
    models: Object.fromEntries(models.all().map((engine) => [engine.description.id, engine.stats()])),
  }));

  app.get("/ready", async (_, reply) => {
    const reasons: string[] = [];
    if (lifecycle.isDraining) reasons.push("shutting down");
    if (models.loading) reasons.push("loading models");
    if (app.access.limiter.state() === "unavailable") reasons.push("rate limiter unavailable (Redis down and rateLimit.failOpen is false)");
    // A model that failed to load does not make the instance unready (the others serve); it is reported.
    const failed = Object.fromEntries(models.all().flatMap((m) => (m instanceof ManagedModel && m.state === "failed" ? [[m.id, m.failure]] : [])));
    if (reasons.length > 0) return reply.code(503).send({ status: "not ready", reasons, failed });
    return { status: "ready", models: models.ids, failed };
  });
};
