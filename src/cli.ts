#!/usr/bin/env node
import { spawn } from "node:child_process";
import { ConfigError, loadConfig } from "./config/load.js";
import type { GatewayConfig } from "./config/schema.js";
import { CONFIG_FLAG, MODEL_FLAG, SCALAR_SETTINGS } from "./config/settings.js";
import { createLogger } from "./server/logger.js";
import { startGateway } from "./server/start.js";

const DEFAULT_THREADPOOL = 4;
const DUPLICATE_SIGNAL_MS = 250;

function usage(): string {
  const settings = [CONFIG_FLAG, MODEL_FLAG, ...SCALAR_SETTINGS];
  const flags = settings.filter((s) => s.flag).map((s) => `  --${s.flag!.padEnd(20)} ${s.description}  [env ${s.env}]`);
  const envOnly = settings.filter((s) => !s.flag).map((s) => `  ${s.env.padEnd(22)} ${s.description}`);
  return `Usage: llm-gateway [flags]\n\n${flags.join("\n")}\n\nEnvironment only (secrets):\n${envOnly.join("\n")}\n\nEvery setting also has a config-file key: see config/default.yaml.`;
}

/**
 * Every context decodes on its own libuv pool thread, so the pool must hold one per context. Its size
 * is read once when the pool starts, which ES-module loading has already done, so a larger pool
 * needs a fresh process.
 */
function needsLargerThreadpool(config: GatewayConfig): number | undefined {
  if (config.engine.isolation === "process") return undefined; // each engine process sizes its own pool
  const contexts = config.engine.slots * Math.max(1, config.models.length);
  if (process.env.UV_THREADPOOL_SIZE || contexts <= DEFAULT_THREADPOOL) return undefined;
  return contexts;
}

function relaunchWithThreadpool(size: number): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: String(size) },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage());
    return;
  }
  let config: GatewayConfig;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`llm-gateway: ${error.message}\n\n${usage()}`);
      process.exit(2);
    }
    throw error;
  }
  const poolSize = needsLargerThreadpool(config);
  if (poolSize) return relaunchWithThreadpool(poolSize);

  const logger = createLogger(config.log);
  let gateway;
  try {
    gateway = await startGateway(config, logger);
  } catch (error) {
    logger.fatal({ err: error instanceof ConfigError ? error.message : error }, "could not start");
    process.exit(1);
  }
  let stoppingSince: number | undefined;
  const stop = async (signal: string) => {
    if (stoppingSince !== undefined) {
      // One event can arrive twice (a group signal, and the same forwarded by a relaunching parent); a person's second Ctrl-C comes later.
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stoppingSince = Date.now();
    await gateway.shutdown(config.shutdown.graceMs);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

await main();
