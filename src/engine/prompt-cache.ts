import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import type { Slot } from "./slot.js";
import { restrict, stateDir } from "./state-dir.js";

// A slot's cache outlives the slot's next request: before a request throws away most of what a slot holds
// (another conversation took it), the slot's KV state is saved to a file; a later prompt that shares a longer
// prefix with a saved state than with its slot loads it back instead of evaluating it again. This is what
// keeps more conversations than slots warm (llama-server's --cache-ram does the same in host memory).
// node-llama-cpp copies sequence state only through files; they live in the OS temp folder (its page cache).

const MIN_TOKENS = 32; // below this, evaluating again is cheaper than a state file round trip

interface Entry {
  tokens: readonly Token[];
  path: string;
  bytes: number;
  lastUsed: number;
}

export class PromptCache {
  private readonly entries = new Set<Entry>();
  private readonly dir: string;
  private bytes = 0;
  private counter = 0;

  constructor(
    private readonly maxBytes: number,
    /** Every request compares its prompt with every entry: the count bounds that work, whatever the states weigh. */
    private readonly maxEntries: number,
  ) {
    this.dir = mkdtempSync(join(stateDir(), "prompts-"));
  }

  /**
   * Called once a request holds `slot`, before its prompt is evaluated: saves what the slot holds if the
   * prompt would throw most of it away, and loads a saved state that shares more of the prompt than the
   * slot does. The slot's cache then holds the best prefix there is; Slot.keepSharedPrefix trims the rest.
   */
  async prepare(slot: Slot, tokens: readonly Token[]): Promise<void> {
    const kept = slot.cachedPrefixLength(tokens);
    const held = slot.cachedLength;
    const match = this.longestMatch(tokens);
    // A copy is loaded and the entry stays: a prompt may share only its first part (a common system prompt),
    // and the conversation it belongs to may still come back for the rest.
    const restore = match && match.shared > kept && match.shared >= MIN_TOKENS ? match.entry : undefined;
    if (restore) restore.lastUsed = ++this.counter;
    if (held - kept >= MIN_TOKENS && kept < held / 2) await this.save(slot);
    if (!restore) return;
    try {
      await slot.sequence.loadStateFromFile(restore.path, { acceptRisk: true });
    } catch {
      await slot.sequence.clearHistory(); // dropped meanwhile: a miss
    }
  }

  private longestMatch(tokens: readonly Token[]): { entry: Entry; shared: number } | undefined {
    let best: { entry: Entry; shared: number } | undefined;
    for (const entry of this.entries) {
      const shared = commonPrefix(entry.tokens, tokens);
      if (shared > (best?.shared ?? 0)) best = { entry, shared };
    }
    return best;
  }

  private async save(slot: Slot): Promise<void> {
    const tokens = slot.sequence.contextTokens;
    for (const entry of this.entries) {
      const shared = commonPrefix(entry.tokens, tokens);
      if (shared === tokens.length) return void (entry.lastUsed = ++this.counter); // already saved, whole
      if (shared === entry.tokens.length) this.dropFile(entry); // the slot holds this entry and more
    }
    const path = join(this.dir, `${++this.counter}.kv`);
    try {
      const { fileSize } = await slot.sequence.saveStateToFile(path);
      restrict(path);
      if (fileSize > this.maxBytes) return void rm(path, { force: true });
      this.entries.add({ tokens, path, bytes: fileSize, lastUsed: this.counter });
      this.bytes += fileSize;
      this.evictOverLimits();
    } catch {
      void rm(path, { force: true }); // a cache that cannot be written is a cache miss, not an error
    }
  }

  private evictOverLimits(): void {
    if (this.bytes <= this.maxBytes && this.entries.size <= this.maxEntries) return;
    const byAge = [...this.entries].sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of byAge) {
      if (this.bytes <= this.maxBytes && this.entries.size <= this.maxEntries) return;
      this.dropFile(entry);
    }
  }

  private dropFile(entry: Entry): void {
    this.remove(entry);
    void rm(entry.path, { force: true });
  }

  private remove(entry: Entry): void {
    if (this.entries.delete(entry)) this.bytes -= entry.bytes;
  }

  close(): void {
    this.entries.clear();
    this.bytes = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  const end = Math.min(a.length, b.length);
  let i = 0;
  while (i < end && a[i] === b[i]) i++;
  return i;
}
