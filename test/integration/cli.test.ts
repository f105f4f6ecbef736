import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { jsonBody } from "../helpers/gateway.js";

// The real command line, as `npm start` runs it (through tsx here, to skip the build).
function launch(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.UV_THREADPOOL_SIZE;
  return spawn(process.execPath, ["--import", "tsx", resolve(PROJECT_ROOT, "src/cli.ts"), ...args], { cwd: PROJECT_ROOT, env: childEnv });
}

async function output(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; text: string }> {
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  const [code] = await once(child, "exit");
  return { code, text };
}

/** Collects JSON log lines until one satisfies `until`. */
async function logsUntil(child: ChildProcessWithoutNullStreams, until: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  return new Promise((done, fail) => {
    child.on("exit", (code) => fail(new Error(`exited with ${code} before the expected log line: ${JSON.stringify(lines)}`)));
    child.stdout.on("data", (data) => {
      buffer += data;
      let end;
      while ((end = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        try {
          lines.push(JSON.parse(line));
        } catch {
          continue;
        }
        if (until(lines.at(-1)!)) return done(lines);
      }
    });
  });
}

describe("the llm-gateway command", () => {
  it("lists every flag with its environment variable", async () => {
    const { code, text } = await output(launch(["--help"]));
    expect(code).toBe(0);
    for (const flag of ["--model", "--host", "--port", "--config", "--slots", "--ctx-size", "--threads", "--gpu", "--gpu-layers"]) expect(text).toContain(flag);
    expect(text).toContain("GATEWAY_SLOTS");
  });

  it("refuses a bad setting at start, naming the field", async () => {
    const { code, text } = await output(launch(["--slots", "0"]));
    expect(code).toBe(2);
    expect(text).toContain("engine.slots: must be >= 1");
  });

  it("refuses a bad value from a config file, naming the field", async () => {
    const { code, text } = await output(launch([], { GATEWAY_CONFIG: resolve(PROJECT_ROOT, "test/fixtures/bad-config.yaml") }));
    expect(code).toBe(2);
    expect(text).toMatch(/engine\.gpu: expected one of .*"off" \(got "quantum"\)/);
  });

  it("starts on the default model, says what it loaded and where, serves, and stops on SIGTERM", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--slots", "6"]);
    try {
      const lines = await logsUntil(child, (line) => typeof line.url === "string");
      const loaded = lines.find((line) => line.model !== undefined)!;
      expect(loaded).toMatchObject({ model: "stories260K", gpu: "cpu", gpuLayers: 0, slots: 6, layout: "per-slot" });
      const serving = lines.at(-1)!;
      expect(serving.uvThreadpool).toBe(6); // relaunched with a libuv pool that holds every context
      const models = await jsonBody(await fetch(`${serving.url}/models`));
      expect(models.data[0].id).toBe("stories260K");
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      expect((await exited)[0]).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
