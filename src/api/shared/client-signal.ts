import type { FastifyReply } from "fastify";

/**
 * An AbortSignal that aborts when the client closes its connection before the answer was written, and the
 * function that stops listening (call it when the request is done).
 */
export function clientSignal(reply: FastifyReply): { signal: AbortSignal; done(): void } {
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort(new Error("client closed the connection"));
  };
  reply.raw.on("close", onClose);
  return { signal: abort.signal, done: () => reply.raw.off("close", onClose) };
}
