import { readdirSync } from "node:fs";
import { setPriority } from "node:os";

// On CPU, every slot decodes on a libuv pool thread of its own, and with more slots than cores those threads
// keep every core busy. Each token then waits twice for the JS thread (to sample, then to queue the next
// decode), and the JS thread, runnable, waits for a core behind the decodes: measured on stories260K with 8
// slots on 2 vCPUs, the engine's JS thread spent 0.64 s of every second runnable but not running. A higher
// nice value on the process's other threads lets the JS thread (and so every stream) go first.

/**
 * Sets `nice` on every thread of this process but its JS thread (Linux: a thread id is a valid target of
 * setpriority). Threads started later by those threads inherit it. Returns how many threads it changed, 0
 * where it cannot (another OS, a nice value not allowed).
 */
export function lowerWorkerThreadPriority(nice: number): number {
  if (nice <= 0 || process.platform !== "linux") return 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return 0;
  }
  let changed = 0;
  for (const tid of tids.map(Number)) {
    if (tid === process.pid) continue;
    try {
      setPriority(tid, nice);
      changed++;
    } catch {
      // the thread ended, or this nice value is not allowed here
    }
  }
  return changed;
}
