import type { GenerationEvent } from "./types.js";
import type { ThoughtMarkers } from "./prompt.js";
import { partialMatchAtEnd } from "./text-assembler.js";

/** engine.reasoning: `separate` sends thinking as reasoning_content; `inline` leaves it in the answer, markers included. */
export type ReasoningMode = "separate" | "inline";

type Piece = { type: "text" | "reasoning"; text: string };

/**
 * Splits streamed text at the template's thinking markers, holding back text that may be the start of
 * a marker so that no part of one reaches either channel.
 */
export class ReasoningSplitter {
  private pending = "";
  private trimAnswerStart: boolean;

  constructor(
    private readonly markers: ThoughtMarkers,
    private inThought: boolean,
  ) {
    this.trimAnswerStart = inThought;
  }

  push(text: string): Piece[] {
    this.pending += text;
    const pieces: Piece[] = [];
    for (;;) {
      const marker = this.inThought ? this.markers.suffix : this.markers.prefix;
      const at = marker ? this.pending.indexOf(marker) : -1;
      if (at === -1) break;
      this.emit(pieces, this.pending.slice(0, at));
      this.pending = this.pending.slice(at + marker.length);
      this.inThought = !this.inThought;
      if (!this.inThought) this.trimAnswerStart = true;
    }
    const marker = this.inThought ? this.markers.suffix : this.markers.prefix;
    const keep = marker ? partialMatchAtEnd(this.pending, [marker]) : 0;
    this.emit(pieces, this.pending.slice(0, this.pending.length - keep));
    this.pending = this.pending.slice(this.pending.length - keep);
    return pieces;
  }

  flush(): Piece[] {
    const pieces: Piece[] = [];
    this.emit(pieces, this.pending);
    this.pending = "";
    return pieces;
  }

  private emit(pieces: Piece[], text: string): void {
    if (!this.inThought && this.trimAnswerStart) {
      text = text.trimStart();
      if (text) this.trimAnswerStart = false;
    }
    if (text) pieces.push({ type: this.inThought ? "reasoning" : "text", text });
  }
}

/** The generation's text events with its thinking moved into reasoning events. */
export async function* separateReasoning(events: AsyncIterable<GenerationEvent>, splitter: ReasoningSplitter): AsyncGenerator<GenerationEvent> {
  for await (const event of events) {
    if (event.type === "text") {
      const pieces = splitter.push(event.text);
      // Log-probabilities belong to the answer's tokens; thinking has none in the reasoning channel.
      for (const [i, piece] of pieces.entries()) yield piece.type === "text" && i === pieces.length - 1 && event.logprobs ? { ...piece, logprobs: event.logprobs } : piece;
      continue;
    }
    if (event.type === "done") yield* splitter.flush();
    yield event;
  }
}

/** Inline thinking whose opening marker is in the prompt (the template opened the block): the answer shows it too, with its first token. */
export async function* startingWith(prefix: string, events: AsyncIterable<GenerationEvent>): AsyncGenerator<GenerationEvent> {
  let pending: string | undefined = prefix;
  for await (const event of events) {
    if (pending !== undefined && event.type === "text") {
      yield { ...event, text: pending + event.text };
      pending = undefined;
    } else yield event;
  }
}
