// Each scalar setting that users set from the command line or the environment, in one table,
// so the flag, the variable and the config key cannot drift apart.
export interface ScalarSetting {
  flag: string;
  env: string;
  path: readonly [string, string];
  numeric: boolean;
  description: string;
}

export const SCALAR_SETTINGS: readonly ScalarSetting[] = [
  { flag: "host", env: "GATEWAY_HOST", path: ["server", "host"], numeric: false, description: "address to listen on (default 127.0.0.1)" },
  { flag: "port", env: "GATEWAY_PORT", path: ["server", "port"], numeric: true, description: "port (default 8080)" },
  { flag: "slots", env: "GATEWAY_SLOTS", path: ["engine", "slots"], numeric: true, description: "parallel sequences per model (default 4)" },
  { flag: "ctx-size", env: "GATEWAY_CTX_SIZE", path: ["engine", "ctxSize"], numeric: true, description: "context tokens per slot (default: the model's, at most 4096)" },
  { flag: "threads", env: "GATEWAY_THREADS", path: ["engine", "threads"], numeric: true, description: "CPU threads per context (default: derived from available CPUs)" },
  { flag: "gpu", env: "GATEWAY_GPU", path: ["engine", "gpu"], numeric: false, description: "auto|cuda|vulkan|metal|off (default auto)" },
  { flag: "gpu-layers", env: "GATEWAY_GPU_LAYERS", path: ["engine", "gpuLayers"], numeric: true, description: "n|max|auto (default auto)" },
  { flag: "layout", env: "GATEWAY_LAYOUT", path: ["engine", "layout"], numeric: false, description: "auto|batched|per-slot (default auto)" },
  { flag: "log-level", env: "GATEWAY_LOG_LEVEL", path: ["log", "level"], numeric: false, description: "fatal|error|warn|info|debug|trace|silent" },
];

export const MODEL_FLAG = { flag: "model", env: "GATEWAY_MODEL", description: "model path or hf: URI (repeatable; env: comma-separated)" };
export const CONFIG_FLAG = { flag: "config", env: "GATEWAY_CONFIG", description: "YAML or JSON config file" };

/** "12" becomes 12 for numeric settings; anything else stays a string so validation can name it. */
export function parseScalar(setting: ScalarSetting, raw: string): string | number {
  return setting.numeric && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
}
