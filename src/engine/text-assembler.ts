export type Detokenize = (tokens: readonly number[], precedingTokens: readonly number[]) => string;

const MAX_HELD_TOKENS = 4; // a UTF-8 character spans at most 4 byte-fallback tokens
const PRECEDING_CONTEXT = 8;

/**
 * Turns generated tokens into text that is safe to stream: it holds back tokens that end inside a
 * multi-byte character, and text that might be the start of a stop string, so a client never
 * sees half a character or part of a stop sequence.
 */
export class TextAssembler {
  private heldTokens: number[] = [];
  private recentTokens: number[];
  private pendingText = "";
  private readonly stops: string[];

  constructor(
    private readonly detokenize: Detokenize,
    stops: readonly string[],
    promptTokens: readonly number[],
  ) {
    this.stops = stops.filter((s) => s.length > 0);
    this.recentTokens = promptTokens.slice(-PRECEDING_CONTEXT);
  }

  /** Adds one token; returns the text now safe to emit and whether a stop string was reached. */
  push(token: number): { text: string; stopped: boolean } {
    this.heldTokens.push(token);
    const text = this.detokenize(this.heldTokens, this.recentTokens);
    if (text.endsWith("\uFFFD") && this.heldTokens.length < MAX_HELD_TOKENS) return { text: "", stopped: false };
    this.recentTokens = [...this.recentTokens, ...this.heldTokens].slice(-PRECEDING_CONTEXT);
    this.heldTokens = [];
    this.pendingText += text;
    return this.releasePending();
  }

  /** The generation ended without a stop string: everything held back is final text. */
  flush(): string {
    const held = this.heldTokens.length > 0 ? this.detokenize(this.heldTokens, this.recentTokens) : "";
    const text = this.pendingText + held;
    this.heldTokens = [];
    this.pendingText = "";
    return text;
  }

  /** The stop string that ended the text, once one has. */
  matchedStop: string | undefined;

  private releasePending(): { text: string; stopped: boolean } {
    let stopAt = -1;
    for (const stop of this.stops) {
      const index = this.pendingText.indexOf(stop);
      if (index !== -1 && (stopAt === -1 || index < stopAt)) {
        stopAt = index;
        this.matchedStop = stop;
      }
    }
    if (stopAt !== -1) {
      const text = this.pendingText.slice(0, stopAt);
      this.pendingText = "";
      return { text, stopped: true };
    }
    const keep = partialMatchAtEnd(this.pendingText, this.stops);
    const text = this.pendingText.slice(0, this.pendingText.length - keep);
    this.pendingText = this.pendingText.slice(this.pendingText.length - keep);
    return { text, stopped: false };
  }

}

/** How many characters at the end of `text` could begin one of `candidates` (held back until the next text decides). */
export function partialMatchAtEnd(text: string, candidates: readonly string[]): number {
  let longest = 0;
  for (const candidate of candidates) {
    for (let n = Math.min(candidate.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(candidate.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
