import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import type { Logger } from "pino";
import type { EngineConfig } from "../config/schema.js";

/**
 * Loads llama.cpp's prebuilt binaries for the configured backend and never compiles them. A GPU backend
 * that cannot load, or loads with no real device behind it, falls back to CPU (a warning when the backend was
 * named), so a misdetected GPU never stops a CPU host; engine.gpuRequired makes either a start error.
 */
export async function loadLlamaRuntime({ gpu, gpuRequired }: Pick<EngineConfig, "gpu" | "gpuRequired">, logger: Logger): Promise<Llama> {
  const common = {
    build: "never" as const,
    logLevel: LlamaLogLevel.warn,
    logger: (level: LlamaLogLevel, message: string) => logNative(logger, level, message),
  };
  if (gpu === "off") return getLlama({ ...common, gpu: false });
  let llama: Llama;
  try {
    llama = await getLlama({ ...common, gpu });
  } catch (error) {
    if (gpuRequired) throw new Error(`GPU backend '${gpu}' is unavailable (${(error as Error).message}) and engine.gpuRequired is true`);
    logger.warn({ gpu, err: (error as Error).message }, "GPU backend unavailable, falling back to CPU");
    return getLlama({ ...common, gpu: false });
  }
  if (llama.gpu === false) {
    if (gpuRequired) throw new Error("no GPU backend is available and engine.gpuRequired is true");
    return llama;
  }
  // A backend can load with no device behind it (a Vulkan loader with only Mesa's software drivers, common on
  // desktops and CI images): that is a CPU, and gets the CPU's layout, threads and prompt threads.
  const devices = await llama.getGpuDeviceNames().catch(() => []);
  const vram = await llama.getVramState().then(({ total }) => total).catch(() => 0);
  if (hasUsableGpu(devices, vram)) return llama;
  const reason = devices.length === 0 ? "no device" : `only software devices: ${devices.join(", ")}`;
  if (gpuRequired) throw new Error(`GPU backend '${llama.gpu}' has ${reason} and engine.gpuRequired is true`);
  (gpu === "auto" ? logger.info : logger.warn).call(logger, { gpu, backend: llama.gpu, devices }, `GPU backend ${llama.gpu} has ${reason}: running on the CPU`);
  await llama.dispose();
  return getLlama({ ...common, gpu: false });
}

/** Software rasterizers that present themselves as GPUs (Mesa's llvmpipe / lavapipe, SwiftShader). */
const SOFTWARE_DEVICE = /llvmpipe|lavapipe|softpipe|swiftshader/i;

/** Whether a loaded backend has a real GPU behind it: a device that is not a software renderer, with memory. */
export function hasUsableGpu(devices: readonly string[], vramTotal: number): boolean {
  return devices.some((name) => !SOFTWARE_DEVICE.test(name)) && vramTotal > 0;
}

function logNative(logger: Logger, level: LlamaLogLevel, message: string): void {
  const text = message.trim();
  if (!text) return;
  if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) logger.error({ source: "llama.cpp" }, text);
  else if (level === LlamaLogLevel.warn) logger.warn({ source: "llama.cpp" }, text);
  else logger.debug({ source: "llama.cpp" }, text);
}
