import { createHash, timingSafeEqual } from "node:crypto";
import type { GatewayConfig, RateLimitsConfig } from "../config/schema.js";
import { ConfigError } from "../config/load.js";
import { ApiError } from "../errors.js";

export interface Limits {
  rpm: number;
  tpm: number;
  maxConcurrent: number;
}

/** Who is calling: a key's name (never the key) and its limits. */
export interface Identity {
  name: string;
  limits: Limits;
  /** Its share of busy slots relative to other keys (fair queueing). */
  weight: number;
}

/** The caller when no keys are configured: everybody shares the default limits. */
export const ANONYMOUS = "anonymous";

const digest = (key: string) => createHash("sha256").update(key).digest();

/**
 * The configured API keys. A presented key is compared with every stored one in constant time (as
 * SHA-256 digests, so lengths do not leak either), and only the key's name is kept after that.
 */
export class ApiKeys {
  private constructor(
    private readonly keys: { name: string; digest: Buffer; limits: Limits; weight: number }[],
    private readonly defaults: Limits,
  ) {}

  static fromConfig({ auth, rateLimit }: Pick<GatewayConfig, "auth" | "rateLimit">): ApiKeys {
    const defaults: Limits = { rpm: rateLimit.rpm, tpm: rateLimit.tpm, maxConcurrent: rateLimit.maxConcurrent };
    const secrets = new Map<string, string>();
    for (const pair of auth.apiKeys.split(",").map((p) => p.trim()).filter(Boolean)) {
      const colon = pair.indexOf(":");
      if (colon <= 0 || colon === pair.length - 1) throw new ConfigError("auth.apiKeys (API_KEYS): expected comma-separated name:key pairs");
      secrets.set(pair.slice(0, colon), pair.slice(colon + 1));
    }
    const limitsByName = new Map<string, RateLimitsConfig | undefined>();
    const weightByName = new Map<string, number>();
    for (const entry of auth.keys) {
      if (entry.key !== undefined) {
        if (secrets.has(entry.name) && secrets.get(entry.name) !== entry.key) throw new ConfigError(`auth.keys: key '${entry.name}' is given twice with different secrets`);
        secrets.set(entry.name, entry.key);
      } else if (!secrets.has(entry.name)) {
        throw new ConfigError(`auth.keys: '${entry.name}' has no key, and API_KEYS names no such key`);
      }
      limitsByName.set(entry.name, entry.limits);
      if (entry.weight !== undefined) weightByName.set(entry.name, entry.weight);
    }
    const seen = new Set<string>();
    for (const secret of secrets.values()) {
      if (seen.has(secret)) throw new ConfigError("auth: two key names share one secret");
      seen.add(secret);
    }
    const keys = [...secrets].map(([name, secret]) => ({ name, digest: digest(secret), limits: { ...defaults, ...limitsByName.get(name) }, weight: weightByName.get(name) ?? 1 }));
    return new ApiKeys(keys, defaults);
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  get names(): string[] {
    return this.keys.map((k) => k.name);
  }

  /** The caller for a presented key; 401 when keys are configured and it matches none. */
  identify(presented: string | undefined): Identity {
    if (!this.enabled) return { name: ANONYMOUS, limits: this.defaults, weight: 1 };
    if (!presented) throw invalidApiKey("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
    const candidate = digest(presented);
    let match: (typeof this.keys)[number] | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, candidate)) match = key; // no early exit
    if (!match) throw invalidApiKey("Incorrect API key provided.");
    return { name: match.name, limits: match.limits, weight: match.weight };
  }
}

const invalidApiKey = (message: string) => new ApiError(401, message, "invalid_request_error", "invalid_api_key");

/** The key in `Authorization: Bearer <key>`, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
