import type { SamplingDefaults } from "./types.js";

// llama.cpp's converter writes a model's recommended sampling (its generation_config.json) as
// general.sampling.*; llama-server takes them as the defaults of requests that omit a field.
const KEYS: Record<string, keyof SamplingDefaults> = { temp: "temperature", top_p: "top_p", top_k: "top_k", min_p: "min_p", penalty_repeat: "repeat_penalty" };

/** The sampling defaults a GGUF's metadata recommends (only the keys it has, each a finite number). */
export function ggufSamplingDefaults(metadata: { general?: unknown }): SamplingDefaults {
  const sampling = (metadata.general as { sampling?: Record<string, unknown> } | undefined)?.sampling ?? {};
  const defaults: SamplingDefaults = {};
  for (const [key, field] of Object.entries(KEYS)) {
    const value = sampling[key];
    if (typeof value === "number" && Number.isFinite(value)) defaults[field] = value;
  }
  return defaults;
}
