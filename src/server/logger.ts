import pino, { type Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";

/**
 * JSON lines for machines, pino-pretty for a person at a terminal. Request bodies are never logged;
 * prompt and completion text only with log.content (see request-record.ts).
 */
export function createLogger({ level, format }: Pick<GatewayConfig["log"], "level" | "format">): Logger {
  const pretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true);
  if (!pretty) return pino({ level, base: { service: "llm-gateway" } });
  return pino({ level, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } });
}
