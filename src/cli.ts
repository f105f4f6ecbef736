#!/usr/bin/env node
import { ConfigError, loadConfig } from "./config/load.js";
import type { GatewayConfig } from "./config/schema.js";
import { CONFIG_FLAG, MODEL_FLAG, SCALAR_SETTINGS } from "./config/settings.js";
import { createLogger } from "./server/logger.js";
import { startGateway } from "./server/start.js";
import { relaunchedWithThreadpool, workerPoolSize } from "./engine/worker-pool.js";

const DUPLICATE_SIGNAL_MS = 250;

function usage(): string {
  const settings = [CONFIG_FLAG, MODEL_FLAG, ...SCALAR_SETTINGS];
  const flags = settings.filter((s) => s.flag).map((s) => `  --${s.flag!.padEnd(20)} ${s.description}  [env ${s.env}]`);
  const envOnly = settings.filter((s) => !s.flag).map((s) => `  ${s.env.padEnd(22)} ${s.description}`);
  return `Usage: llm-gateway [flags]\n\n${flags.join("\n")}\n\nEnvironment only (secrets):\n${envOnly.join("\n")}\n\nEvery setting also has a config-file key: see config/default.yaml.`;
}

/** In-process engines (isolation none) share this process's libuv pool, sized as an engine process sizes its own. */
function threadpoolFor(config: GatewayConfig): number | undefined {
  if (config.engine.isolation === "process" || process.env.UV_THREADPOOL_SIZE) return undefined; // each engine process sizes its own
  return workerPoolSize(config.engine, Math.max(1, config.models.length));
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
  const poolSize = threadpoolFor(config);
  if (poolSize && relaunchedWithThreadpool(poolSize)) return;

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
