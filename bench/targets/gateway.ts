import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

export interface GatewayProcess {
  baseURL: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the built gateway (dist/) in its own process, as a user runs it, and waits until it serves. */
export async function startGatewayProcess(flags: string[], extraEnv: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): Promise<GatewayProcess> {
  // The gateway sizes its own libuv pool, as it does for users; the bench's setting must not leak in.
  const env = { ...process.env, ...extraEnv };
  delete env.UV_THREADPOOL_SIZE;
  const child = spawn(process.execPath, [...nodeFlags, resolve(PROJECT_ROOT, "dist/src/cli.js"), "--host", "127.0.0.1", "--port", "0", "--log-level", "info", ...flags], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const baseURL = await new Promise<string>((done, fail) => {
    let buffer = "";
    child.on("exit", (code) => fail(new Error(`gateway exited with ${code}`)));
    child.stdout.on("data", (data: Buffer) => {
      buffer += data.toString();
      const match = buffer.match(/"url":"(http:[^"]+)"/);
      if (match) done(match[1]!);
    });
  });
  child.stdout.resume();
  return {
    baseURL,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
