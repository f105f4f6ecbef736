import type { ServerResponse } from "node:http";
import { once } from "node:events";

/**
 * Writes one server-sent-events stream: headers at once, one `data:` frame per object, a comment
 * when the stream has been silent for a while (long prompt evaluation), and waits for the socket to
 * drain rather than buffering without bound.
 */
export class SseWriter {
  private lastWrite = Date.now();
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly raw: ServerResponse,
    keepAliveMs: number,
    extraHeaders: Record<string, string> = {},
    /** What a silent stream is sent: a comment, or a protocol's own event (Anthropic's `ping`). */
    keepAliveFrame = ": keep-alive\n\n",
  ) {
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...extraHeaders,
    });
    raw.flushHeaders();
    this.keepAlive = setInterval(() => {
      if (Date.now() - this.lastWrite >= keepAliveMs) void this.write(keepAliveFrame);
    }, Math.max(50, Math.floor(keepAliveMs / 2)));
  }

  get closed(): boolean {
    return this.raw.destroyed || this.raw.writableEnded;
  }

  /** One frame; `event` names it (Anthropic's streams name every event, OpenAI's none). */
  send(data: unknown, event?: string): Promise<void> {
    return this.write(`${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`);
  }

  async end(withDone: boolean): Promise<void> {
    clearInterval(this.keepAlive);
    if (this.closed) return;
    if (withDone) await this.write("data: [DONE]\n\n");
    this.raw.end();
  }

  private async write(frame: string): Promise<void> {
    if (this.closed) return;
    this.lastWrite = Date.now();
    if (!this.raw.write(frame)) await Promise.race([once(this.raw, "drain"), once(this.raw, "close")]);
  }
}
