import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** CPUs this process may really use: the affinity mask, further capped by a cgroup CPU quota (containers). */
export function availableCpus(): number {
  const quota = cgroupCpuQuota();
  const cpus = availableParallelism();
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.floor(quota)));
}

function cgroupCpuQuota(): number | undefined {
  const v2 = readText("/sys/fs/cgroup/cpu.max"); // "max 100000" or "200000 100000"
  if (v2) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota && quota !== "max" && period) return Number(quota) / Number(period);
    return undefined;
  }
  const quota = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
  const period = Number(readText("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  return quota > 0 && period > 0 ? quota / period : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Threads per context when the config leaves it at 0. The prebuilt llama.cpp binaries spin-wait at
 * every graph barrier without a persistent pool, so a context given more threads than there are idle
 * cores collapses (measured: 367 -> 78 tok/s on 2 vCPUs). One core is left for Node's own threads.
 */
export function defaultThreadsPerContext(contexts: number, cpus = availableCpus()): number {
  return Math.max(1, Math.floor((cpus - 1) / contexts));
}
