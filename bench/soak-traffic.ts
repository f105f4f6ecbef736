// Mixed traffic for soak runs (the suite's short one and `npm run bench:soak`): every transport and the ways
// clients misbehave, each request's outcome checked. Loopback only, bounded in time.
import WebSocket from "ws";

export interface SoakOptions {
  baseURL: string;
  model: string;
  seconds: number;
  /** Concurrent clients, each running the mix in turn. */
  clients: number;
  apiKey?: string;
}

export interface SoakResult {
  requests: number;
  /** Outcomes by kind, e.g. "sse ok", "ws cancelled", "bad-input 400". */
  outcomes: Record<string, number>;
  /** What should not have happened (a 5xx other than overload, a stream without its end, a lost reply). */
  unexpected: string[];
}

const TOOLS = [{ type: "function", function: { name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const CHAT = [{ role: "user", content: "Tell me a story about a cat." }];
const REPLY_TIMEOUT_MS = 30_000;

type Action = (options: SoakOptions, note: (outcome: string, problem?: string) => void) => Promise<void>;

/** An HTTP status the mix accepts without comment: success, or the overload and rate-limit answers that tell a client to retry. */
const acceptable = (status: number): boolean => status === 200 || status === 429 || status === 503;

async function post(options: SoakOptions, path: string, body: object, signal?: AbortSignal): Promise<Response> {
  return fetch(`${options.baseURL}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
    body: JSON.stringify({ model: options.model, ...body }),
    signal: signal ?? AbortSignal.timeout(REPLY_TIMEOUT_MS),
  });
}

async function statusOutcome(kind: string, response: Response, note: (outcome: string, problem?: string) => void, expected = acceptable): Promise<void> {
  const text = await response.text();
  if (response.status === 503 && !text.includes("server_overloaded") && !text.includes("rate_limiter_unavailable")) return note(`${kind} 503`, `${kind}: 503 that is not an overload: ${text.slice(0, 200)}`);
  note(`${kind} ${response.status}`, expected(response.status) ? undefined : `${kind}: unexpected status ${response.status}: ${text.slice(0, 200)}`);
}

const sseStream: Action = async (options, note) => {
  const response = await post(options, "/chat/completions", { messages: CHAT, max_tokens: 24, stream: true, stream_options: { include_usage: true } });
  if (response.status !== 200) return statusOutcome("sse", response, note);
  const text = await response.text();
  note("sse 200", text.trimEnd().endsWith("data: [DONE]") ? undefined : `sse: stream ended without [DONE]: ${text.slice(-200)}`);
};

const sseAbandoned: Action = async (options, note) => {
  const abort = new AbortController();
  const response = await post(options, "/completions", { prompt: "Once upon a time", max_tokens: 200, ignore_eos: true, stream: true }, abort.signal);
  if (response.status !== 200) return statusOutcome("sse-abort", response, note);
  await response.body!.getReader().read();
  abort.abort();
  note("sse-abort left");
};

const jsonCompletion: Action = async (options, note) => statusOutcome("json", await post(options, "/completions", { prompt: "The dog", max_tokens: 16, n: 2 }), note);

const forcedToolCall: Action = async (options, note) => {
  const response = await post(options, "/chat/completions", { messages: CHAT, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, max_tokens: 100 });
  if (response.status !== 200) return statusOutcome("tools", response, note);
  const body = (await response.json()) as { choices: { finish_reason: string; message: { tool_calls?: { function: { arguments: string } }[] } }[] };
  if (body.choices[0]?.finish_reason === "length") return note("tools cut at max_tokens"); // a call the model had not closed yet
  const call = body.choices[0]?.message.tool_calls?.[0];
  let parsed = false;
  try {
    parsed = call !== undefined && typeof JSON.parse(call.function.arguments) === "object";
  } catch {
    // reported below
  }
  note("tools 200", parsed ? undefined : `tools: no parseable call: ${JSON.stringify(body).slice(0, 200)}`);
};

const badInput: Action = async (options, note) =>
  statusOutcome("bad-input", await post(options, "/chat/completions", { messages: CHAT, temperature: "hot" }), note, (status: number): boolean => status === 400);

/** One socket, two requests: one cancelled after its first chunk (it must end with done {cancelled}), one dropped with the socket or finished. */
const socketMix: Action = async (options, note) => {
  const socket = new WebSocket(`${options.baseURL.replace(/^http/, "ws")}/ws`, options.apiKey ? { headers: { authorization: `Bearer ${options.apiKey}` } } : {});
  await new Promise((opened, failed) => socket.once("open", opened).once("error", failed));
  const drop = Math.random() < 0.3;
  const ends = new Map<string, unknown[]>();
  const finished = new Promise<void>((done) => {
    const timer = setTimeout(done, REPLY_TIMEOUT_MS);
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === "chunk" && message.id === "cancel-me" && !ends.has("cancel-me")) {
        ends.set("cancel-me", []);
        socket.send(JSON.stringify({ type: "cancel", id: "cancel-me" }));
        if (drop) socket.terminate();
      }
      if (message.type === "done" || message.type === "error") {
        const seen = ends.get(message.id) ?? [];
        ends.set(message.id, [...seen, message]);
        const terminals = (id: string) => (ends.get(id) ?? []).length;
        if (terminals("cancel-me") >= 1 && terminals("keep") >= 1) {
          clearTimeout(timer);
          setTimeout(done, 50); // a second terminal message for one id would arrive by then
        }
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      done();
    });
  });
  socket.send(JSON.stringify({ type: "completions.create", id: "cancel-me", body: { model: options.model, prompt: "Once", max_tokens: 200, ignore_eos: true } }));
  socket.send(JSON.stringify({ type: "chat.completions.create", id: "keep", body: { model: options.model, messages: CHAT, max_tokens: 16 } }));
  await finished;
  socket.terminate();
  if (drop) return note("ws dropped");
  for (const id of ["cancel-me", "keep"]) {
    const terminals = (ends.get(id) ?? []) as { type: string; cancelled?: boolean; status?: number }[];
    if (terminals.length !== 1) note(`ws ${id} lost`, `ws: request ${id} ended with ${terminals.length} terminal messages`);
    else if (terminals[0]!.type === "error") note(`ws error ${terminals[0]!.status}`, acceptable(terminals[0]!.status ?? 0) ? undefined : `ws: ${id} failed: ${JSON.stringify(terminals[0])}`);
    else if (id === "cancel-me") note(terminals[0]!.cancelled ? "ws cancelled" : "ws finished-before-cancel");
    else note("ws ok");
  }
};

const MIX: Action[] = [sseStream, jsonCompletion, socketMix, sseAbandoned, forcedToolCall, sseStream, badInput, socketMix];

/** Runs the mix until `seconds` pass; every client starts at a different point of it. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const result: SoakResult = { requests: 0, outcomes: {}, unexpected: [] };
  const note = (outcome: string, problem?: string) => {
    result.requests++;
    result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1;
    if (problem) result.unexpected.push(problem);
  };
  const deadline = Date.now() + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      for (let step = client; Date.now() < deadline; step++) {
        const action = MIX[step % MIX.length]!;
        await action(options, note).catch((error: Error) => note("client error", `${action.name}: ${error.message}`));
      }
    }),
  );
  return result;
}
