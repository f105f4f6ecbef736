import { readdirSync, readFileSync } from "node:fs";
import { childPids } from "./process-memory.js";

// Where a process's CPU goes, read from /proc (Linux): its JS thread, and its other threads together (in an
// engine process nearly all of that is libuv's pool, where node-llama-cpp decodes and samples; the rest is V8's
// GC and compiler helpers). Node 20's threads are all named "node", so they are told apart by id only. Beside
// CPU time, the time each group spent runnable but waiting for a core (schedstat): on a saturated machine, the
// latency a JS thread adds to every token it hands on.

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds per thread group of one process, and seconds spent waiting for a core, at one moment. */
export interface ProcessCpu {
  js: number;
  /** Of `js`, the time in the kernel (system calls: socket and pipe writes, wake-ups). */
  jsKernel: number;
  threads: number;
  jsWait: number;
  threadsWait: number;
}


/** The process's CPU time so far, per thread group; undefined once the process is gone. */
export function processCpu(pid: number): ProcessCpu | undefined {
  const totals: ProcessCpu = { js: 0, jsKernel: 0, threads: 0, jsWait: 0, threadsWait: 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
    const main = Number(tid) === pid;
    totals[main ? "js" : "threads"] += seconds;
    if (main) totals.jsKernel += Number(fields[12]) / TICKS_PER_SECOND;
    try {
      const waitNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      totals[main ? "jsWait" : "threadsWait"] += waitNs / 1e9;
    } catch {
      // no schedstat in this kernel, or the thread ended
    }
  }
  return totals;
}

/** A process and all its descendants, each with its command line. */
export function processTree(pid: number): { pid: number; command: string; children: number[] }[] {
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return [];
  }
  const children = childPids(pid);
  return [{ pid, command, children }, ...children.flatMap(processTree)];
}

/** Snapshots of several processes; `since` turns two snapshots into cores used over a wall-clock span. */
export function snapshot(pids: Record<string, number>): Record<string, ProcessCpu> {
  return Object.fromEntries(Object.entries(pids).flatMap(([label, pid]) => {
    const cpu = processCpu(pid);
    return cpu ? [[label, cpu]] : [];
  }));
}

/** Per process: cores used (CPU seconds per wall second) and seconds waited per wall second, per thread group. */
export function coresBetween(before: Record<string, ProcessCpu>, after: Record<string, ProcessCpu>, wallSeconds: number): Record<string, ProcessCpu & { total: number }> {
  return Object.fromEntries(Object.entries(after).map(([label, end]) => {
    const start = before[label] ?? { js: 0, jsKernel: 0, threads: 0, jsWait: 0, threadsWait: 0 };
    const per = (key: keyof ProcessCpu) => (end[key] - start[key]) / wallSeconds;
    return [label, { js: per("js"), jsKernel: per("jsKernel"), threads: per("threads"), jsWait: per("jsWait"), threadsWait: per("threadsWait"), total: per("js") + per("threads") }];
  }));
}
