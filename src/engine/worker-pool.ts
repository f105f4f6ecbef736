import { spawn } from "node:child_process";
import type { EngineConfig } from "../config/schema.js";
import { availableCpus, defaultThreadsPerContext } from "./cpu-budget.js";

/** libuv's own pool size, used when UV_THREADPOOL_SIZE is unset. */
const DEFAULT_THREADPOOL = 4;

/** The engine settings the pool size follows (a model's, with its own values on top). */
export type PoolSettings = Pick<EngineConfig, "layout" | "slots" | "threads" | "workerThreads">;

/** This process's libuv pool size. */
export const currentThreadpool = (): number => Number(process.env.UV_THREADPOOL_SIZE) || DEFAULT_THREADPOOL;

/**
 * The size of the libuv pool of a process whose contexts decode on it (with --isolation none, `models` engines of
 * these settings share it). Each per-slot context's decode and sampling run on a pool thread; when the contexts' threads outnumber the cores, decodes running at once only
 * time-slice each other, and every token's JS work (which must run between two decodes) waits behind them.
 * So the pool holds as many decodes as the cores take at each context's thread count, and never more than one
 * per context plus two (sampling, I/O). Measured on 2 vCPUs, stories260K, 8 slots: a pool of 2 streams 1.2-1.3x
 * the tokens/s of a pool of 10 (bench/results/2026-12-02-worker-pool-summary.md). The batched layout decodes every
 * slot in one call on llama.cpp's own threads, and its pool samples the sequences side by side: it keeps one
 * thread per context plus two, at least libuv's default.
 */
export function workerPoolSize({ layout, slots, threads, workerThreads }: PoolSettings, models = 1, cpus = availableCpus()): number {
  if (workerThreads > 0) return workerThreads;
  const contexts = (layout === "batched" ? 1 : slots) * models;
  if (layout === "batched") return Math.max(DEFAULT_THREADPOOL, contexts + 2);
  const perContext = threads || defaultThreadsPerContext(contexts, cpus);
  return Math.max(2, Math.min(contexts + 2, Math.floor(cpus / perContext)));
}

/**
 * libuv reads UV_THREADPOOL_SIZE once, when its pool starts, which ES-module loading has already done: a
 * process that needs another size runs itself again with it and exits with its child. Returns whether it did
 * (the caller then does nothing more).
 */
export function relaunchedWithThreadpool(size: number): boolean {
  if (currentThreadpool() === size) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: String(size) },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}
