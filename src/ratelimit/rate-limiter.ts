import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { Identity } from "../auth/api-keys.js";
import type { ModelRatesConfig } from "../config/schema.js";
import { ApiError } from "../errors.js";
import type { BucketCharge, BucketStore, LeaseRequest } from "./bucket-store.js";
import { formatResetDuration, rateLimitHeaders } from "./openai-headers.js";

export interface AdmissionRequest {
  identity: Identity;
  model: string;
  /** Prompt estimate + max_tokens: what the request may cost at most, roughly. */
  estimatedTokens: number;
}

/** An admitted request: its headers, and the settlement of its real token count when it ends. */
export interface Admission {
  headers: Record<string, string>;
  /** Replaces the estimate with the real count (gives back, or charges more); releases the concurrency lease. Idempotent. */
  settle(actualTokens: number): void;
}

const UNLIMITED: Admission = { headers: {}, settle: () => {} };

interface PlannedCharge extends BucketCharge {
  kind: "requests" | "tokens";
  scope: string;
}

/**
 * Per key (and per model, shared by all keys): requests and tokens per minute as token buckets, and
 * generations in flight as leases. Everything one request needs is checked and charged in one store
 * call, all or nothing, so a rejected request leaves no trace.
 */
export class RateLimiter {
  constructor(
    private readonly store: BucketStore,
    private readonly modelRates: Record<string, ModelRatesConfig>,
    /** A lease outlives no request: the longest queue wait plus the longest generation. */
    private readonly leaseTtlMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  async admit({ identity, model, estimatedTokens }: AdmissionRequest): Promise<Admission> {
    const charges = this.plan(identity, model, estimatedTokens);
    const { maxConcurrent } = identity.limits;
    const lease: LeaseRequest | undefined = maxConcurrent > 0 ? { key: `k:${identity.name}:active`, limit: maxConcurrent, id: randomUUID(), ttlMs: this.leaseTtlMs } : undefined;
    if (charges.length === 0 && !lease) return UNLIMITED;

    const tooLarge = charges.find((c) => c.kind === "tokens" && c.cost > c.capacity);
    if (tooLarge) {
      const error = rateLimited("tokens", `Request too large for the ${tooLarge.scope} tokens per minute (TPM) limit: limit ${tooLarge.capacity}, requested about ${tooLarge.cost}. Lower max_tokens or shorten the prompt.`);
      error.headers["x-should-retry"] = "false";
      throw error;
    }

    const result = await this.store.acquire(charges, lease);
    const headers: Record<string, string> = {};
    for (const kind of ["requests", "tokens"] as const) {
      const index = charges.findIndex((c) => c.kind === kind); // the key's own bucket when it has one
      if (index >= 0) Object.assign(headers, rateLimitHeaders(kind, result.levels[index]!));
    }
    if (!result.allowed) {
      const charge = charges[result.deniedBy];
      const reason = charge
        ? `Rate limit reached for ${charge.scope} ${charge.kind} per minute: limit ${charge.capacity}, requested ${charge.cost}.`
        : `Too many requests in flight for key '${identity.name}': limit ${maxConcurrent}.`;
      const error = rateLimited(charge?.kind ?? "requests", `${reason} Please try again in ${formatResetDuration(result.retryAfterMs)}.`, result.retryAfterMs);
      Object.assign(error.headers, headers);
      throw error;
    }

    const tokenBuckets = charges.filter((c) => c.kind === "tokens");
    let settled = false;
    return {
      headers,
      settle: (actualTokens) => {
        if (settled || (tokenBuckets.length === 0 && !lease)) return;
        settled = true;
        const adjustments = tokenBuckets.map((c) => ({ key: c.key, capacity: c.capacity, delta: estimatedTokens - actualTokens }));
        result.store.adjust(adjustments, lease && { key: lease.key, id: lease.id }).catch((error: Error) => {
          this.log.warn({ err: error.message }, "rate limiter: settlement failed; the estimate stands and the lease expires on its own");
        });
      },
    };
  }

  private plan(identity: Identity, model: string, tokens: number): PlannedCharge[] {
    const charges: PlannedCharge[] = [];
    const add = (scope: string, key: string, kind: PlannedCharge["kind"], capacity: number | undefined, cost: number) => {
      if (capacity && capacity > 0) charges.push({ scope, key, kind, capacity, cost });
    };
    const keyScope = `key '${identity.name}'`;
    add(keyScope, `k:${identity.name}:requests`, "requests", identity.limits.rpm, 1);
    add(keyScope, `k:${identity.name}:tokens`, "tokens", identity.limits.tpm, tokens);
    const rates = this.modelRates[model];
    add(`model '${model}'`, `m:${model}:requests`, "requests", rates?.rpm, 1);
    add(`model '${model}'`, `m:${model}:tokens`, "tokens", rates?.tpm, tokens);
    return charges;
  }
}

/** OpenAI's 429: type names what ran out ("requests" or "tokens"). */
const rateLimited = (type: "requests" | "tokens", message: string, retryAfterMs?: number) => new ApiError(429, message, type, "rate_limit_exceeded", null, retryAfterMs);
