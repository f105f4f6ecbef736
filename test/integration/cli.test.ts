import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { workerPoolSize } from "../../src/engine/worker-pool.js";
import { jsonBody, SYNTHETIC_57M } from "../helpers/gateway.js";
import { childPids } from "../../bench/process-memory.js";

// The real command line, as `npm start` runs it (through tsx here, to skip the build).
function launch(args: string[], env: NodeJS.ProcessEnv = {}, detached = false): ChildProcessWithoutNullStreams {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.UV_THREADPOOL_SIZE;
  return spawn(process.execPath, ["--import", "tsx", resolve(PROJECT_ROOT, "src/cli.ts"), ...args], { cwd: PROJECT_ROOT, env: childEnv, detached });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts a 200-token stream and reads its first chunk; returns a reader of the rest. */
async function streamUnderWay(url: string) {
  const response = await fetch(`${url}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "synthetic-llama-57M-random-Q8_0", prompt: "Once", max_tokens: 200, ignore_eos: true, stream: true }),
  });
  const reader = response.body!.getReader();
  await reader.read();
  return async () => {
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    return rest;
  };
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
    const child = launch(["--port", "0", "--gpu", "off", "--slots", "6", "--isolation", "none"]); // in-process engine: the CLI sizes the libuv pool itself
    try {
      const lines = await logsUntil(child, (line) => typeof line.url === "string");
      const loaded = lines.find((line) => line.model !== undefined)!;
      expect(loaded).toMatchObject({ model: "stories260K", gpu: "cpu", gpuLayers: 0, slots: 6, layout: "per-slot", isolation: "none" });
      const serving = lines.at(-1)!;
      // relaunched with the libuv pool an engine process of 6 slots gets: as many decodes at once as the CPUs take
      const pool = workerPoolSize({ slots: 6, layout: "auto", threads: 0, workerThreads: 0 });
      expect(serving.uvThreadpool).toBe(pool);
      expect(loaded.workerThreads).toBe(pool);
      const models = await jsonBody(await fetch(`${serving.url}/models`));
      expect(models.data[0].id).toBe("stories260K");
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      expect((await exited)[0]).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("answers /ready with 503 while the model loads, then 200", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "2", "--ctx-size", "1024"]);
    try {
      const listening = (await logsUntil(child, (line) => typeof line.address === "string")).at(-1)!;
      const root = `http://${listening.address}`;
      const early = await fetch(`${root}/ready`);
      expect(early.status).toBe(503);
      expect((await jsonBody(early)).reasons).toEqual(["loading models"]);
      expect((await fetch(`${root}/health`)).status).toBe(200); // alive meanwhile
      await logsUntil(child, (line) => typeof line.url === "string");
      expect(await jsonBody(await fetch(`${root}/ready`))).toMatchObject({ status: "ready", models: ["synthetic-llama-57M-random-Q8_0"] });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("on SIGTERM lets a running stream finish within the grace period, refuses new work, then exits 0", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "1", "--ctx-size", "1024", "--shutdown-grace-ms", "20000"]);
    try {
      const serving = (await logsUntil(child, (line) => typeof line.url === "string")).at(-1)!;
      const url = serving.url as string;
      const response = await fetch(`${url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "synthetic-llama-57M-random-Q8_0", prompt: "Once", max_tokens: 200, ignore_eos: true, stream: true }),
      });
      const reader = response.body!.getReader();
      await reader.read(); // the stream is under way
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`${url.replace(/\/v1$/, "")}/ready`)).status).toBe(503);
      let rest = "";
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
      expect(rest.trimEnd().endsWith("data: [DONE]")).toBe(true);
      expect(rest).toContain('"finish_reason":"length"');
      expect((await exited)[0]).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("on SIGTERM during a long prompt's evaluation, cancels it after the grace period and exits 0 (the prompt stops between chunks)", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "1", "--threads", "1", "--ctx-size", "8192", "--shutdown-grace-ms", "1000"]);
    try {
      const url = (await logsUntil(child, (line) => typeof line.url === "string")).at(-1)!.url as string;
      const response = await fetch(`${url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // ~6,700 tokens: over 5 s of prompt evaluation on this machine
        body: JSON.stringify({ model: "synthetic-llama-57M-random-Q8_0", prompt: "once upon a time there was a little dog who liked to run. ".repeat(320), max_tokens: 4, stream: true }),
      });
      const body = response.text();
      await new Promise((r) => setTimeout(r, 1_000)); // the prompt is being evaluated
      const exited = once(child, "exit");
      const signalled = Date.now();
      child.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(1_000 + 2_500); // the grace period, one chunk, and closing the engine
      expect(await body).toContain("server_shutting_down");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it.each(["SIGTERM", "SIGINT"] as const)("drains and exits 0 when %s reaches every process of the service (group and cgroup kill, Ctrl-C)", async (signal) => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "1", "--ctx-size", "1024", "--shutdown-grace-ms", "20000"], {}, true);
    try {
      const url = (await logsUntil(child, (line) => typeof line.url === "string")).at(-1)!.url as string;
      const engines = childPids(child.pid!);
      expect(engines.length).toBeGreaterThan(0);
      const rest = await streamUnderWay(url);
      const exited = once(child, "exit");
      process.kill(-child.pid!, signal); // the gateway's process group, as a terminal or `kill -- -PGID` does
      for (const pid of engines) process.kill(pid, signal); // and every process in its cgroup, as systemd does
      const text = await rest();
      expect(text).toContain('"finish_reason":"length"');
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      expect((await exited)[0]).toBe(0);
      expect(engines.filter(alive)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("leaves no engine process behind when the gateway is killed with SIGKILL", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "1", "--ctx-size", "1024"]);
    try {
      await logsUntil(child, (line) => typeof line.url === "string");
      const engines = childPids(child.pid!);
      expect(engines.length).toBeGreaterThan(0);
      child.kill("SIGKILL");
      await once(child, "exit");
      const deadline = Date.now() + 5_000;
      while (engines.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(engines.filter(alive)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("exits at once on a second signal, without waiting for the grace period", async () => {
    const child = launch(["--port", "0", "--gpu", "off", "--model", SYNTHETIC_57M, "--slots", "1", "--ctx-size", "2048", "--shutdown-grace-ms", "60000"]);
    try {
      const url = (await logsUntil(child, (line) => typeof line.url === "string")).at(-1)!.url as string;
      const response = await fetch(`${url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "synthetic-llama-57M-random-Q8_0", prompt: "Once", max_tokens: 2000, ignore_eos: true, stream: true }),
      });
      await response.body!.getReader().read();
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 400)); // a signal within 250 ms of the first is the same event delivered twice
      expect(child.exitCode).toBeNull(); // draining: the stream has most of a minute left
      child.kill("SIGTERM");
      expect((await exited)[0]).toBe(1);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("falls back to CPU with a warning when the GPU backend is unavailable, or fails when one is required", async () => {
    const fallback = launch(["--port", "0", "--gpu", "cuda"]);
    try {
      const lines = await logsUntil(fallback, (line) => typeof line.url === "string");
      expect(lines.find((l) => l.msg === "GPU backend unavailable, falling back to CPU")).toMatchObject({ gpu: "cuda" });
      expect(lines.find((l) => String(l.msg).startsWith("loaded "))).toMatchObject({ gpu: "cpu", gpuLayers: 0 });
    } finally {
      fallback.kill("SIGKILL");
    }
    const { code, text } = await output(launch(["--port", "0", "--gpu", "cuda", "--gpu-required", "true"]));
    expect(code).toBe(1);
    expect(text).toContain("engine.gpuRequired is true");
  });
});
