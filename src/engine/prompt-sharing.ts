import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { prefill } from "./prefill.js";
import type { Slot } from "./slot.js";
import { restrict, stateDir } from "./state-dir.js";

// n > 1 choices of one prompt: the first choice's slot evaluates the prompt once, saves that sequence's KV
// state to a file (node-llama-cpp has no in-memory copy between sequences), and the other choices' slots
// load it instead of evaluating the prompt again. The first choice announces itself as soon as it holds a
// slot; a follower that finds no announcement evaluates on its own, so it never waits on a choice that
// may be waiting for its slot.

const MIN_SHARED_TOKENS = 16; // below this, evaluating is cheaper than a state file round trip
const STATE_FILE_TTL_MS = 60_000;

interface SharedPrompt {
  state: Promise<string | undefined>;
  publish(path: string | undefined): void;
  followersLeft: number;
  expiry: NodeJS.Timeout;
  path?: string;
}

export interface ShareRequest {
  group: string;
  index: number;
  size: number;
}

export class PromptSharing {
  private readonly groups = new Map<string, SharedPrompt>();

  /** Called by the first choice the moment it holds a slot (synchronously, before its followers look). */
  announce(share: ShareRequest | undefined): void {
    if (!share || share.size < 2 || share.index !== 0) return;
    let publish!: (path: string | undefined) => void;
    const state = new Promise<string | undefined>((resolve) => (publish = resolve));
    const expiry = setTimeout(() => this.forget(share.group), STATE_FILE_TTL_MS);
    expiry.unref();
    this.groups.set(share.group, { state, publish, followersLeft: share.size - 1, expiry });
  }

  /**
   * Returns how many prompt tokens the slot now holds (the caller evaluates the rest): for the first choice
   * its prompt less the last token, for a follower the same, loaded from the first choice's state.
   */
  async prepare(share: ShareRequest | undefined, slot: Slot, tokens: readonly Token[], reused: number, signal: AbortSignal): Promise<number> {
    const shared = share && share.size > 1 ? this.groups.get(share.group) : undefined;
    if (!share || !shared) return reused;
    const end = tokens.length - 1; // the last prompt token is evaluated with the generation: its logits pick the first answer token
    if (share.index === 0) return this.lead(share.group, shared, slot, tokens, reused, end, signal);
    const path = await shared.state;
    try {
      if (!path || reused >= end) return reused;
      await slot.sequence.loadStateFromFile(path, { acceptRisk: true });
      return end;
    } catch {
      await slot.sequence.clearHistory();
      return 0;
    } finally {
      if (--shared.followersLeft === 0) this.forget(share.group);
    }
  }

  private async lead(group: string, shared: SharedPrompt, slot: Slot, tokens: readonly Token[], reused: number, end: number, signal: AbortSignal): Promise<number> {
    if (end < MIN_SHARED_TOKENS) {
      shared.publish(undefined);
      return reused;
    }
    const path = join(stateDir(), `${group}.kv`);
    shared.path = path;
    try {
      // A prompt the leader's slot already held is shared too: the followers' slots may not hold it.
      const left = await prefill(slot.sequence, slot.pacer, tokens.slice(reused, end), { signal, all: true });
      if (left.length > 0) {
        // Cancelled between chunks: the followers evaluate on their own (if they still run at all).
        this.forget(group);
        return end - left.length;
      }
      await slot.sequence.saveStateToFile(path);
      restrict(path);
      shared.publish(path);
      return end;
    } catch (error) {
      this.forget(group);
      throw error;
    }
  }

  /** Drops a group and its state file; followers still waiting evaluate on their own. Also for a first choice that failed to start. */
  forget(group: string): void {
    const shared = this.groups.get(group);
    if (!shared) return;
    clearTimeout(shared.expiry);
    shared.publish(undefined); // no-op once published
    this.groups.delete(group);
    if (shared.path) void rm(shared.path, { force: true });
  }
}
