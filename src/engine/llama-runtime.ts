import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import type { Logger } from "pino";
import type { EngineConfig } from "../config/schema.js";

/**
 * Loads llama.cpp's prebuilt binaries for the configured backend and never compiles them. A GPU backend
 * that cannot load falls back to CPU with a warning, so a misdetected GPU never stops a CPU host.
 */
export async function loadLlamaRuntime({ gpu, gpuRequired }: Pick<EngineConfig, "gpu" | "gpuRequired">, logger: Logger): Promise<Llama> {
  const common = {
    build: "never" as const,
    logLevel: LlamaLogLevel.warn,
    logger: (level: LlamaLogLevel, message: string) => logNative(logger, level, message),
  };
  if (gpu === "off") return getLlama({ ...common, gpu: false });
  if (gpuRequired && gpu === "auto") {
    const llama = await getLlama({ ...common, gpu: "auto" });
    if (llama.gpu === false) throw new Error("no GPU backend is available and engine.gpuRequired is true");
    return llama;
  }
  try {
    return await getLlama({ ...common, gpu });
  } catch (error) {
    if (gpuRequired) throw new Error(`GPU backend '${gpu}' is unavailable (${(error as Error).message}) and engine.gpuRequired is true`);
    logger.warn({ gpu, err: (error as Error).message }, "GPU backend unavailable, falling back to CPU");
    return getLlama({ ...common, gpu: false });
  }
}

function logNative(logger: Logger, level: LlamaLogLevel, message: string): void {
  const text = message.trim();
  if (!text) return;
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) logger.error({ source: "llama.cpp" }, text);
  else if (level === LlamaLogLevel.warn) logger.warn({ source: "llama.cpp" }, text);
  else logger.debug({ source: "llama.cpp" }, text);
}
