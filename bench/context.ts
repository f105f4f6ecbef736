import { execSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { PROJECT_ROOT } from "../src/engine/model-file.js";

/** What every results file records: the machine, the commit measured, and a file-name-safe timestamp. */
export function benchContext(): { machine: string; commit: string; stamp: string } {
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: PROJECT_ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  return { machine, commit, stamp: new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19) };
}
