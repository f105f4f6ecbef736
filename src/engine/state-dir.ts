import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Saved KV states (the prompt cache, n > 1 prompt sharing) hold prompts: their token ids decode to the text.
// They live in one folder per process, made by mkdtemp (mode 0700: no other user can list or open what is in
// it), each file also 0600, removed when the process exits. A process that crashed leaves its folder: the next
// one to start sweeps the folders of processes that no longer run.

const PREFIX = "llm-gateway-";
let dir: string | undefined;

/** This process's state folder, made (and the dead processes' swept) on first use. */
export function stateDir(): string {
  if (dir) return dir;
  sweepDeadProcesses();
  dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  process.once("exit", () => rmSync(dir!, { recursive: true, force: true }));
  return dir;
}

/** A state file just written: readable by this user only. */
export function restrict(path: string): void {
  chmodSync(path, 0o600);
}

function sweepDeadProcesses(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(PREFIX.length).split("-")[0]);
    if (!name.startsWith(PREFIX) || !Number.isInteger(pid) || pid <= 0 || running(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // another user's process: alive, and not ours to touch
  }
}
