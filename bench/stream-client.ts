import { Agent, request as httpRequest } from "node:http";
import WebSocket from "ws";
import type { BenchRequest } from "./workloads.js";

export type Transport = "sse" | "ws";

export interface RequestSample {
  ttftMs: number;
  e2eMs: number;
  tokens: number;
  promptTokens: number;
  cachedTokens: number;
  gapsMs: number[];
  /** The generated text (a multi-turn client sends it back as the assistant's turn). */
  text: string;
}

/** One client of the load generator: streams one request at a time and times its chunks. */
export interface StreamClient {
  stream(request: BenchRequest): Promise<RequestSample>;
  close(): void;
}

/** `headers`: sent with every request (an API key); SSE only. */
export async function openStreamClient(transport: Transport, baseURL: string, headers: Record<string, string> = {}): Promise<StreamClient> {
  return transport === "ws" ? openSocketClient(baseURL) : sseClient(baseURL, headers);
}

interface Chunk {
  error?: { message: string };
  usage?: { completion_tokens?: number; prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
  /** llama-server's own figures (cache_n: prompt tokens reused), for a server that reports no cached_tokens. */
  timings?: { cache_n?: number };
  choices?: { text?: string; delta?: { content?: string } }[];
}

/** Times the OpenAI chunks of one streamed generation, whichever transport carried them. */
class ChunkTimer {
  private readonly sent = performance.now();
  private first = 0;
  private last = 0;
  private chunks = 0;
  private text = "";
  private usage: Chunk["usage"];
  private cacheN: number | undefined;
  private readonly gapsMs: number[] = [];

  add(chunk: Chunk): void {
    if (chunk.error) throw new Error(chunk.error.message);
    if (chunk.usage) this.usage = chunk.usage;
    if (chunk.timings?.cache_n !== undefined) this.cacheN = chunk.timings.cache_n;
    const choice = chunk.choices?.[0];
    const piece = choice?.text ?? choice?.delta?.content;
    if (!piece) return;
    this.text += piece;
    const now = performance.now();
    if (this.chunks === 0) this.first = now;
    else this.gapsMs.push(now - this.last);
    this.last = now;
    this.chunks++;
  }

  sample(): RequestSample {
    return {
      ttftMs: this.first - this.sent,
      e2eMs: performance.now() - this.sent,
      tokens: this.usage?.completion_tokens ?? this.chunks,
      promptTokens: this.usage?.prompt_tokens ?? 0,
      cachedTokens: this.usage?.prompt_tokens_details?.cached_tokens ?? this.cacheN ?? 0,
      gapsMs: this.gapsMs,
      text: this.text,
    };
  }
}

/**
 * SSE over node:http with a kept-alive connection per client. Not fetch: its web streams cost the measuring
 * process ~40 µs of CPU per streamed token (measured, stories260K at 8 streams), taken from the server it
 * shares the machine with; this parser costs a fraction of that.
 */
function sseClient(baseURL: string, headers: Record<string, string>): StreamClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    stream(request) {
      const timer = new ChunkTimer();
      const body = JSON.stringify(request.body);
      return new Promise<RequestSample>((done, failed) => {
        const sent = httpRequest(`${baseURL}${request.path}`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } }, (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            return failed(new Error(`HTTP ${response.statusCode}`));
          }
          response.setEncoding("utf8");
          let buffer = "";
          response.on("data", (piece: string) => {
            buffer += piece;
            let start = 0;
            let end: number;
            try {
              while ((end = buffer.indexOf("\n\n", start)) !== -1) {
                if (buffer.startsWith("data: ", start) && !buffer.startsWith("data: [DONE]", start)) timer.add(JSON.parse(buffer.slice(start + 6, end)));
                start = end + 2;
              }
            } catch (error) {
              response.destroy();
              return failed(error);
            }
            buffer = buffer.slice(start);
          });
          response.on("end", () => done(timer.sample()));
          response.on("error", failed);
        });
        sent.on("error", failed);
        sent.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

const MESSAGE_TYPES: Record<BenchRequest["path"], string> = { "/completions": "completions.create", "/chat/completions": "chat.completions.create" };

async function openSocketClient(baseURL: string): Promise<StreamClient> {
  const socket = new WebSocket(`${baseURL.replace(/^http/, "ws")}/ws`);
  await new Promise((opened, failed) => socket.once("open", opened).once("error", failed));
  let sequence = 0;
  return {
    stream(request) {
      const id = String(sequence++);
      const timer = new ChunkTimer();
      return new Promise<RequestSample>((done, failed) => {
        const onMessage = (data: WebSocket.RawData) => {
          const message = JSON.parse(data.toString());
          if (message.id !== id) return;
          try {
            if (message.type === "chunk") timer.add(message.data);
            else if (message.type === "error") throw new Error(message.error.message);
            else if (message.type === "done") {
              socket.off("message", onMessage);
              done(timer.sample());
            }
          } catch (error) {
            socket.off("message", onMessage);
            failed(error);
          }
        };
        socket.on("message", onMessage);
        socket.send(JSON.stringify({ type: MESSAGE_TYPES[request.path], id, body: request.body }));
      });
    },
    close: () => socket.close(),
  };
}
