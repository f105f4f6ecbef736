// Gateway overhead without a model: the gateway's SSE and WebSocket paths over an instant engine against
// a bare node:http SSE server writing the same chunks. Servers run in their own process; this one is the client.
// With --pace-ms each stream gets a token every that many ms (one wake-up per token, as from a real engine), and
// the CPU each side spends per chunk is what counts: on a machine whose cores the decodes want, it is taken from them.
import { spawn } from "node:child_process";
import { startInstantServer } from "./targets/instant-server.js";
import { runLoad } from "./load-generator.js";
import { coresBetween, snapshot } from "./cpu-accounting.js";
import type { Transport } from "./stream-client.js";
import { benchFlags } from "./cli.js";

const values = benchFlags("npm run bench:overhead -- [--concurrency 1,4,16] [--tokens 2000] [--requests 5] [--pace-ms 0] [--busy 0]", {
  concurrency: { type: "string", default: "1,4,16" },
  tokens: { type: "string", default: "2000" },
  requests: { type: "string", default: "5" },
  "pace-ms": { type: "string", default: "0" },
  // Processes that spin on a core throughout, as decodes do: what each chunk costs on a machine with no idle core.
  busy: { type: "string", default: "0" },
});

const tokens = Number(values.tokens);
const paceMs = Number(values["pace-ms"]);
const variants: { name: string; server: string; transport: Transport }[] = [
  { name: "gateway", server: "gateway", transport: "sse" },
  { name: "gateway-ws", server: "gateway", transport: "ws" },
  { name: "bare", server: "bare", transport: "sse" },
];
const rows: string[] = [
  "| streams | server | chunks/s | e2e p50 ms | ms per chunk (e2e / tokens) | server CPU µs per chunk | client CPU µs per chunk |",
  "|---|---|---|---|---|---|---|",
];
const ratios: string[] = [];
// Unreferenced, so they do not keep this process alive; killed when it exits, however it exits.
const spinners = Array.from({ length: Number(values.busy) }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
for (const spinner of spinners) spinner.unref();
process.once("exit", () => spinners.forEach((s) => s.kill("SIGKILL")));
for (const concurrency of values.concurrency.split(",").map(Number)) {
  const rates: Record<string, number> = {};
  for (const { name: kind, server: serverKind, transport } of variants) {
    const server = await startInstantServer(["--kind", serverKind, "--pace-ms", String(paceMs)]);
    try {
      const request = () => () => ({ path: "/completions" as const, body: { prompt: "x", max_tokens: tokens, stream: true } });
      await runLoad({ baseURL: server.url, model: "instant", transport, concurrency, requestsPerWorker: 1, maxSeconds: 60, requestFor: request });
      const before = snapshot({ server: server.pid });
      const started = performance.now();
      const r = await runLoad({ baseURL: server.url, model: "instant", transport, concurrency, requestsPerWorker: Number(values.requests), maxSeconds: 60, requestFor: request });
      const serverCores = coresBetween(before, snapshot({ server: server.pid }), (performance.now() - started) / 1000).server!.total;
      // Cores divided by chunks per second: CPU seconds per chunk.
      const serverUs = (serverCores / r.tokensPerSecond) * 1e6;
      const clientUs = (r.clientCores / r.tokensPerSecond) * 1e6;
      rates[kind] = r.tokensPerSecond;
      rows.push(`| ${concurrency} | ${kind} | ${r.tokensPerSecond} | ${r.e2eMs.p50} | ${(r.e2eMs.p50 / tokens).toFixed(4)} | ${serverUs.toFixed(1)} | ${clientUs.toFixed(1)} |`);
      process.stderr.write(`${kind} × ${concurrency}: ${r.tokensPerSecond} chunks/s, server ${serverUs.toFixed(1)} µs/chunk, client ${clientUs.toFixed(1)} µs/chunk\n`);
    } finally {
      server.stop();
    }
  }
  ratios.push(`| ${concurrency} | ${(rates.gateway! / rates.bare!).toFixed(2)} | ${(rates["gateway-ws"]! / rates.bare!).toFixed(2)} |`);
}
const pace = paceMs > 0 ? `a token every ${paceMs} ms per stream` : "as fast as the server writes";
console.log([`pace: ${pace}; ${spinners.length} busy process(es) beside`, "", ...rows, "", "| streams | gateway SSE / bare | gateway WebSocket / bare |", "|---|---|---|", ...ratios].join("\n"));
