import { describe, expect, it } from "vitest";
import { affinityKey, chooseReplica, rendezvousOrder, type Replica } from "../../src/upstream/routing.js";

const replicas = (n: number): Replica[] => Array.from({ length: n }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8080/v1`, weight: 1, outstanding: 0, healthy: true }));

describe("upstream routing", () => {
  it("names a conversation by its opening, the same at every turn, and a session by its id", () => {
    const turn1 = { kind: "chat" as const, messages: [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "Tell me about owls." }] };
    const turn2 = { kind: "chat" as const, messages: [...turn1.messages, { role: "assistant" as const, content: "Owls hoot." }, { role: "user" as const, content: "More?" }] };
    expect(affinityKey({ prompt: turn2 }, 1024)).toBe(affinityKey({ prompt: turn1 }, 1024));
    const other = { kind: "chat" as const, messages: [turn1.messages[0]!, { role: "user" as const, content: "Tell me about cats." }] };
    expect(affinityKey({ prompt: other }, 1024)).not.toBe(affinityKey({ prompt: turn1 }, 1024));
    expect(affinityKey({ prompt: { kind: "text", text: "abc" + "x".repeat(50) } }, 10)).toBe(affinityKey({ prompt: { kind: "text", text: "abc" + "x".repeat(90) } }, 10));
    expect(affinityKey({ prompt: turn1, session: "s1" }, 1024)).toBe(affinityKey({ prompt: other, session: "s1" }, 1024));
  });

  it("spreads keys evenly, and moves only the adding replica's share when one is added (rendezvous)", () => {
    const three = replicas(3);
    const four = [...three, ...replicas(4).slice(3)];
    const keys = Array.from({ length: 3000 }, (_, i) => `key ${i}`);
    const counts = new Map<string, number>();
    let moved = 0;
    for (const key of keys) {
      const before = rendezvousOrder(key, three)[0]!;
      const after = rendezvousOrder(key, four)[0]!;
      counts.set(before.url, (counts.get(before.url) ?? 0) + 1);
      if (after !== before) {
        moved++;
        expect(after.url).toBe(four[3]!.url); // a key only ever moves to the new replica
      }
    }
    for (const count of counts.values()) expect(count).toBeGreaterThan(850); // ~1000 each
    expect(moved).toBeGreaterThan(600); // ~750: a quarter of the keys
    expect(moved).toBeLessThan(900);
  });

  it("honours weights", () => {
    const weighted = replicas(2);
    weighted[1]!.weight = 3;
    const second = Array.from({ length: 2000 }, (_, i) => rendezvousOrder(`k${i}`, weighted)[0]).filter((r) => r === weighted[1]).length;
    expect(second / 2000).toBeGreaterThan(0.7);
    expect(second / 2000).toBeLessThan(0.8);
  });

  it("keeps every replica within (1 + ε) × its share of the requests in flight, however hot one key is", () => {
    const set = replicas(4);
    for (let request = 1; request <= 40; request++) {
      const chosen = chooseReplica(set, "prefix-affinity", "one hot prefix", 0.25)!;
      chosen.outstanding++;
      const capacity = Math.ceil((1.25 * request) / 4);
      for (const r of set) expect(r.outstanding).toBeLessThanOrEqual(capacity);
    }
    expect(Math.max(...set.map((r) => r.outstanding))).toBe(Math.ceil((1.25 * 40) / 4));
    // The hot key's own replica is the fullest; an idle system sends it home.
    const home = rendezvousOrder("one hot prefix", set)[0]!;
    expect(home.outstanding).toBe(Math.max(...set.map((r) => r.outstanding)));
    const idle = replicas(4);
    expect(chooseReplica(idle, "prefix-affinity", "one hot prefix", 0.25)!.url).toBe(home.url);
  });

  it("least-outstanding ignores the key", () => {
    const set = replicas(3);
    set[0]!.outstanding = 2;
    set[1]!.outstanding = 1;
    set[2]!.outstanding = 3;
    expect(chooseReplica(set, "least-outstanding", "anything", 0.25)).toBe(set[1]);
    // Ties at random, not always the first.
    const idle = replicas(3);
    const picked = new Set(Array.from({ length: 60 }, () => chooseReplica(idle, "least-outstanding", "same key", 0.25)!.url));
    expect(picked.size).toBe(3);
  });
});
