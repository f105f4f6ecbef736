import { Redis } from "ioredis";
import type { FastifyBaseLogger } from "fastify";
import type { GatewayConfig } from "../../config/schema.js";
import { ApiError } from "../../errors.js";
import type { ResponseItem } from "./items.js";

/** A response kept for GET /v1/responses/{id} and for the turns that continue it (previous_response_id). */
export interface StoredResponse {
  /** The API key that created it: no other key sees it. */
  owner: string;
  /** The response object, as the client received it. */
  response: Record<string, unknown>;
  /** This request's input items (GET /v1/responses/{id}/input_items). */
  input: ResponseItem[];
  /** What a turn continuing it starts from: the earlier turns, this input and this output (instructions are not carried over). */
  context: ResponseItem[];
}

export interface ResponseStore {
  readonly kind: "memory" | "redis";
  get(id: string): Promise<StoredResponse | undefined>;
  /** Keeps a response; a store that cannot (Redis down) logs it: the response was already produced. */
  put(id: string, entry: StoredResponse): Promise<void>;
  /** Whether there was one to delete. */
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}

type StoreConfig = GatewayConfig["responses"];

/** Redis when configured (responses.store redis, or auto with a Redis URL), else this instance's memory. */
export function createResponseStore(config: StoreConfig, fallbackRedisUrl: string, log: FastifyBaseLogger): ResponseStore {
  const url = config.redisUrl || fallbackRedisUrl;
  if (config.store === "redis" && !url) throw new Error("responses.store is redis but neither responses.redisUrl nor rateLimit.redis.url is set");
  if (config.store === "memory" || !url)
    return new MemoryResponseStore(config.maxEntries, config.maxMiB * 1024 * 1024, config.ttlSeconds * 1000, { entries: config.maxEntriesPerKey, bytes: config.maxMiBPerKey * 1024 * 1024 });
  return new RedisResponseStore(url, config, log);
}

interface MemoryEntry {
  owner: string;
  json: string;
  bytes: number;
  expiresAt: number;
}

/**
 * In this process: bounded by count and bytes, least recently used evicted first, each entry expiring after the
 * TTL. Each API key also has a quota of its own, and a key over it evicts its own oldest responses: one key's
 * stores never push out another's.
 */
export class MemoryResponseStore implements ResponseStore {
  readonly kind = "memory";
  /** Map order is recency order: a read moves the entry to the end. Entries are kept as JSON, so callers never share objects. */
  private readonly entries = new Map<string, MemoryEntry>();
  private bytes = 0;
  private readonly perOwner = new Map<string, { entries: number; bytes: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly ttlMs: number,
    private readonly perKey: { entries: number; bytes: number } = { entries: maxEntries, bytes: maxBytes },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.remove(id, entry);
      return undefined;
    }
    this.entries.delete(id);
    this.entries.set(id, entry);
    return JSON.parse(entry.json) as StoredResponse;
  }

  async put(id: string, stored: StoredResponse): Promise<void> {
    await this.delete(id);
    const json = JSON.stringify(stored);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.maxBytes || bytes > this.perKey.bytes) return; // larger than the whole store or the key's quota: never kept
    const owner = stored.owner;
    this.entries.set(id, { owner, json, bytes, expiresAt: Date.now() + this.ttlMs });
    this.bytes += bytes;
    const own = this.perOwner.get(owner) ?? { entries: 0, bytes: 0 };
    own.entries++;
    own.bytes += bytes;
    this.perOwner.set(owner, own);
    for (const [oldest, entry] of this.entries) {
      if (own.entries <= this.perKey.entries && own.bytes <= this.perKey.bytes) break;
      if (entry.owner === owner) this.remove(oldest, entry);
    }
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.remove(oldest, entry);
    }
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.remove(id, entry);
    return entry.expiresAt > Date.now();
  }

  private remove(id: string, entry: MemoryEntry): void {
    this.entries.delete(id);
    this.bytes -= entry.bytes;
    const own = this.perOwner.get(entry.owner)!;
    own.entries--;
    own.bytes -= entry.bytes;
    if (own.entries === 0) this.perOwner.delete(entry.owner);
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.perOwner.clear();
    this.bytes = 0;
  }
}

const storeUnavailable = () => new ApiError(503, "The response store (Redis) is not reachable; try again.", "server_error", "store_unavailable", null, 1000);

/** In Redis, shared by every instance: one key per response, expiring after the TTL (Redis's own memory policy bounds the rest). */
export class RedisResponseStore implements ResponseStore {
  readonly kind = "redis";
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly config: Pick<StoreConfig, "keyPrefix" | "ttlSeconds" | "commandTimeoutMs">,
    private readonly log: FastifyBaseLogger,
  ) {
    this.redis = new Redis(url, { commandTimeout: config.commandTimeoutMs, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
    this.redis.on("error", (error: Error) => log.debug({ err: error.message }, "response store: Redis connection error"));
  }

  private key(id: string): string {
    return this.config.keyPrefix + id;
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    let json: string | null;
    try {
      json = await this.redis.get(this.key(id));
    } catch {
      throw storeUnavailable();
    }
    return json === null ? undefined : (JSON.parse(json) as StoredResponse);
  }

  async put(id: string, stored: StoredResponse): Promise<void> {
    try {
      await this.redis.set(this.key(id), JSON.stringify(stored), "EX", this.config.ttlSeconds);
    } catch (error) {
      this.log.warn({ err: (error as Error).message, responseId: id }, "response store: could not store a response in Redis");
    }
  }

  async delete(id: string): Promise<boolean> {
    try {
      return (await this.redis.del(this.key(id))) > 0;
    } catch {
      throw storeUnavailable();
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
