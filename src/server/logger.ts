import pino, { type Logger } from "pino";

/** JSON logs; request bodies, prompts and completions are never logged. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "llm-gateway" } });
}
