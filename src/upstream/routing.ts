import { createHash } from "node:crypto";
import type { GenerationRequest } from "../engine/types.js";

// Which replica a request goes to. Two policies:
// - least-outstanding: the fewest requests in flight per unit of weight, ties at random (blind to caches).
// - prefix-affinity: rendezvous (highest-random-weight) hashing of the request's affinity key, so that the turns of
//   one conversation (and requests that open the same way) reach the replica that holds their prefix in its KV cache;
//   with bounded load: a replica already at (1 + ε) × its share of the requests in flight is passed over for the next
//   one in the key's order, so one hot prefix spills over several replicas instead of queueing on one.

export type RoutingPolicy = "least-outstanding" | "prefix-affinity";

export interface Replica {
  url: string;
  weight: number;
  outstanding: number;
  healthy: boolean;
}

/**
 * What identifies a request's conversation: the session the client named (x-session-id or `user`), else the
 * opening of its prompt — for chat the system text and the first other message, each cut to `chars` characters (a
 * conversation keeps both as it grows, while conversations that share a long system prompt still differ); for text
 * the first `chars` characters.
 */
export function affinityKey(request: Pick<GenerationRequest, "prompt" | "session">, chars: number): string {
  if (request.session) return `session\u0000${request.session}`;
  const prompt = request.prompt;
  if (prompt.kind === "text") return `text\u0000${prompt.text.slice(0, chars)}`;
  const system = prompt.messages.filter((m) => m.role === "system").map((m) => m.content).join("\n").slice(0, chars);
  const first = prompt.messages.find((m) => m.role !== "system");
  return `chat\u0000${system}\u0000${first?.role ?? ""}\u0000${(first?.content ?? "").slice(0, chars)}`;
}

/** A replica's rendezvous score for a key: weighted HRW (-w / ln u, u uniform in (0, 1) from the hash). */
function score(key: string, replica: Replica): number {
  const digest = createHash("sha256").update(key).update("\u0000").update(replica.url).digest();
  const u = (digest.readUInt32BE(0) * 2 ** 21 + (digest.readUInt32BE(4) >>> 11) + 0.5) / 2 ** 53;
  return -replica.weight / Math.log(u);
}

/** The replicas in the key's rendezvous order: the same key always ranks them the same way, whatever else is in the set. */
export function rendezvousOrder<R extends Replica>(key: string, replicas: readonly R[]): R[] {
  return replicas
    .map((replica) => ({ replica, score: score(key, replica) }))
    .sort((a, b) => b.score - a.score)
    .map((s) => s.replica);
}

/**
 * The replica for the next request among `candidates` (healthy ones not tried yet): least-outstanding, or the first in
 * the key's rendezvous order whose requests in flight stay within (1 + ε) × its weighted share of all in flight
 * (counting this one).
 */
export function chooseReplica<R extends Replica>(candidates: readonly R[], policy: RoutingPolicy, key: string, loadBound: number): R | undefined {
  if (candidates.length === 0) return undefined;
  if (policy === "least-outstanding") {
    // Ties go to a random one of them (as Envoy's least_request does): always the first would send sequential
    // traffic to one replica, sticky by accident rather than by design.
    const load = (r: R) => r.outstanding / r.weight;
    const least = Math.min(...candidates.map(load));
    const tied = candidates.filter((r) => load(r) === least);
    return tied[Math.floor(Math.random() * tied.length)];
  }
  const inFlight = candidates.reduce((sum, r) => sum + r.outstanding, 0) + 1;
  const totalWeight = candidates.reduce((sum, r) => sum + r.weight, 0);
  const capacity = (r: R) => Math.ceil(((1 + loadBound) * inFlight * r.weight) / totalWeight);
  const order = rendezvousOrder(key, candidates);
  return order.find((r) => r.outstanding + 1 <= capacity(r)) ?? order[0];
}
