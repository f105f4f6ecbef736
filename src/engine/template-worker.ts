import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ApiError } from "../errors.js";

// A chat template is a program the model's publisher wrote, and some are quadratic in the conversation (Gemma 4's
// renders 1,000 messages in 2.4 s, 4,000 in over 30 s). A long conversation is rendered on a worker thread of its
// own, so the engine's event loop (every other stream of the model) keeps running, with a deadline: past it, or
// when the client leaves, the worker is terminated mid-render and the next render starts a new one.

// The worker takes the template as its parsed program (jinja-semantics.ts), so it renders with the same rules; a
// program crosses once per worker, later renders name it by number.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { Template } = require(workerData.jinja);
const templates = new Map();
parentPort.on("message", ({ id, programId, program, context }) => {
  try {
    if (program) templates.set(programId, Object.assign(Object.create(Template.prototype), { parsed: program }));
    parentPort.postMessage({ id, text: templates.get(programId).render(context) });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;
const JINJA = createRequire(import.meta.url).resolve("@huggingface/jinja");

export const renderTimedOut = (ms: number) =>
  new ApiError(400, `This conversation took longer than ${ms} ms to render with the model's chat template (request.renderTimeoutMs): send fewer messages.`, "invalid_request_error", "prompt_render_timeout", "messages");

/** Renders templates one at a time on a worker thread, each within a deadline and cancellable. */
export class TemplateWorker {
  private worker: Worker | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  /** The programs the current worker holds, by the number it knows each by. */
  private programs = new Map<unknown, number>();

  /** The template's text for `context`; rejects with the template's own error message, a timeout, or `signal`'s reason. */
  render(program: unknown, context: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const turn = this.queue.then(() => this.renderNow(program, context, timeoutMs, signal));
    this.queue = turn.catch(() => {});
    return turn;
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private renderNow(program: unknown, context: Record<string, unknown>, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
    signal?.throwIfAborted();
    const worker = (this.worker ??= this.start());
    const id = ++this.nextId;
    const known = this.programs.get(program);
    const programId = known ?? this.programs.size + 1;
    if (known === undefined) this.programs.set(program, programId);
    return new Promise<string>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage).off("error", onError);
        signal?.removeEventListener("abort", onAbort);
      };
      const stop = (reason: unknown) => {
        done();
        if (this.worker === worker) this.worker = undefined;
        void worker.terminate();
        reject(reason);
      };
      const onMessage = (message: { id: number; text?: string; error?: string }) => {
        if (message.id !== id) return;
        done();
        if (message.error !== undefined) reject(new Error(message.error));
        else resolve(message.text!);
      };
      const onError = (error: Error) => stop(error);
      const onAbort = () => stop(signal!.reason);
      const timer = setTimeout(() => stop(renderTimedOut(timeoutMs)), timeoutMs);
      worker.on("message", onMessage).on("error", onError);
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.postMessage({ id, programId, ...(known === undefined ? { program } : {}), context });
    });
  }

  private start(): Worker {
    this.programs = new Map(); // a new worker holds none yet
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { jinja: JINJA } });
    worker.unref(); // an idle renderer never keeps the process alive
    return worker;
  }
}
