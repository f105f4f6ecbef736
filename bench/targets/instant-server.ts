import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

/** Starts bench/overhead-server.ts (no model) in its own process with the given arguments. */
export async function startInstantServer(args: string[]): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(PROJECT_ROOT, "bench/overhead-server.ts"), ...args], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((done) => child.stdout.once("data", (d: Buffer) => done(JSON.parse(d.toString()).url)));
  return { url, pid: child.pid!, stop: () => child.kill("SIGKILL") };
}
