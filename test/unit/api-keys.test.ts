import { describe, expect, it } from "vitest";
import { ApiKeys, bearerToken } from "../../src/auth/api-keys.js";
import { validateConfig } from "../../src/config/load.js";

const keys = (settings: object) => ApiKeys.fromConfig(validateConfig(settings));

describe("API keys", () => {
  it("takes name:key pairs from API_KEYS and limits from the config file, by name", () => {
    const ring = keys({
      auth: { apiKeys: "alice:sk-alice-1,bob:sk-bob-22", keys: [{ name: "bob", limits: { rpm: 5 } }, { name: "carol", key: "sk-carol-333" }] },
      rateLimit: { rpm: 60, tpm: 1000 },
    });
    expect(ring.names.sort()).toEqual(["alice", "bob", "carol"]);
    expect(ring.identify("sk-alice-1")).toEqual({ name: "alice", limits: { rpm: 60, tpm: 1000, maxConcurrent: 0 }, weight: 1 });
    expect(ring.identify("sk-bob-22").limits).toEqual({ rpm: 5, tpm: 1000, maxConcurrent: 0 });
    expect(ring.identify("sk-carol-333").name).toBe("carol");
  });

  it("gives each key its share weight for fair queueing (default 1)", () => {
    const ring = keys({ auth: { apiKeys: "alice:sk-alice-1", keys: [{ name: "bob", key: "sk-bob-22", weight: 3 }] } });
    expect(ring.identify("sk-bob-22").weight).toBe(3);
    expect(ring.identify("sk-alice-1").weight).toBe(1);
  });

  it("answers 401 invalid_api_key for a missing or wrong key", () => {
    const ring = keys({ auth: { apiKeys: "alice:sk-alice-1" } });
    for (const presented of [undefined, "sk-alice-", "sk-alice-12", "x"]) {
      expect(() => ring.identify(presented)).toThrow(expect.objectContaining({ status: 401, code: "invalid_api_key" }));
    }
  });

  it("is open, with the default limits, when no key is configured", () => {
    const ring = keys({ rateLimit: { rpm: 7 } });
    expect(ring.enabled).toBe(false);
    expect(ring.identify(undefined)).toEqual({ name: "anonymous", limits: { rpm: 7, tpm: 0, maxConcurrent: 0 }, weight: 1 });
  });

  it("refuses ambiguous key configuration at start", () => {
    expect(() => keys({ auth: { apiKeys: "alice" } })).toThrow(/name:key pairs/);
    expect(() => keys({ auth: { apiKeys: "a:sk-same-1,b:sk-same-1" } })).toThrow(/share one secret/);
    expect(() => keys({ auth: { keys: [{ name: "ghost", limits: { rpm: 1 } }] } })).toThrow(/'ghost' has no key/);
  });

  it("reads a bearer token", () => {
    expect(bearerToken("Bearer sk-1")).toBe("sk-1");
    expect(bearerToken("bearer   sk-1 ")).toBe("sk-1");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
