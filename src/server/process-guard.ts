// Nothing that escapes a request ends the process: an unhandled rejection or exception is logged and counted by
// every gateway in this process (tests run several), never a reason to exit. The handlers are installed once.

export type EscapeKind = "unhandledRejection" | "uncaughtException";
type Sink = (kind: EscapeKind, error: unknown) => void;

const sinks = new Set<Sink>();
let installed = false;

/** Reports what escapes to `sink` until the returned function is called. */
export function guardProcess(sink: Sink): () => void {
  sinks.add(sink);
  if (!installed) {
    installed = true;
    process.on("unhandledRejection", (reason) => report("unhandledRejection", reason));
    process.on("uncaughtException", (error) => report("uncaughtException", error));
  }
  return () => void sinks.delete(sink);
}

function report(kind: EscapeKind, error: unknown): void {
  if (sinks.size === 0) console.error(`${kind}:`, error);
  for (const sink of sinks) sink(kind, error);
}
