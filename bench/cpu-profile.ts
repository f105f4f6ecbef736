import { readFileSync } from "node:fs";
import { basename } from "node:path";

// A V8 .cpuprofile (written by `node --cpu-prof`) summed into self time per function and per kind of code,
// over a window of CLOCK_MONOTONIC time (the clock V8 stamps samples with, and process.hrtime's), so that a
// process's start-up and warm-up stay out of it.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number; // µs
  samples: number[];
  timeDeltas: number[];
}

export type CodeKind = "idle" | "gc" | "native/program" | "node-llama-cpp" | "gateway" | "fastify/pino/ws" | "other modules" | "node internals";

export interface ProfileSummary {
  /** Seconds of samples in the window, idle included. */
  seconds: number;
  byKind: Record<string, number>;
  top: { name: string; seconds: number }[];
}

function kindOf({ functionName, url }: ProfileNode["callFrame"]): CodeKind {
  if (functionName === "(idle)") return "idle";
  if (functionName === "(garbage collector)") return "gc";
  if (functionName === "(program)" || (!url && functionName.startsWith("("))) return "native/program";
  if (url.includes("node-llama-cpp")) return "node-llama-cpp";
  if (/fastify|pino|\/ws\/|avvio|find-my-way|light-my-request|thread-stream|sonic-boom/.test(url)) return "fastify/pino/ws";
  if (url.includes("node_modules")) return "other modules";
  if (url.includes("/src/") || url.includes("/dist/")) return "gateway";
  return "node internals";
}

/** Self time per kind and the `topCount` costliest functions, from samples between `fromUs` and `toUs`. */
export function summarizeProfile(path: string, fromUs: number, toUs: number, topCount = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    if (time < fromUs || time > toUs) continue;
    // A sample stands for the time until the next one.
    const span = profile.timeDeltas[i + 1] ?? delta;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + span);
  }
  const byKind: Record<string, number> = {};
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    const kind = kindOf(frame);
    byKind[kind] = (byKind[kind] ?? 0) + us / 1e6;
    total += us / 1e6;
    if (kind === "idle") continue;
    const name = `${frame.functionName || "(anonymous)"} ${frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : ""}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us / 1e6);
  }
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, topCount).map(([name, seconds]) => ({ name, seconds }));
  return { seconds: total, byKind, top };
}

/** CLOCK_MONOTONIC in µs, on the clock of a profile's samples. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
