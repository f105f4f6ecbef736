// Gateway overhead without a model: the gateway's SSE and WebSocket paths over an instant engine against
// a bare node:http SSE server writing the same chunks. Servers run in their own process; this one is the client.
import { startInstantServer } from "./targets/instant-server.js";
import { runLoad } from "./load-generator.js";
import type { Transport } from "./stream-client.js";
import { benchFlags } from "./cli.js";

const values = benchFlags("npm run bench:overhead -- [--concurrency 1,4,16] [--tokens 2000] [--requests 5]", {
  concurrency: { type: "string", default: "1,4,16" },
  tokens: { type: "string", default: "2000" },
  requests: { type: "string", default: "5" },
});

const tokens = Number(values.tokens);
const variants: { name: string; server: string; transport: Transport }[] = [
  { name: "gateway", server: "gateway", transport: "sse" },
  { name: "gateway-ws", server: "gateway", transport: "ws" },
  { name: "bare", server: "bare", transport: "sse" },
];
const rows: string[] = ["| streams | server | chunks/s | e2e p50 ms | ms per chunk (e2e / tokens) |", "|---|---|---|---|---|"];
const ratios: string[] = [];
for (const concurrency of values.concurrency.split(",").map(Number)) {
  const rates: Record<string, number> = {};
  for (const { name: kind, server: serverKind, transport } of variants) {
    const server = await startInstantServer(["--kind", serverKind]);
    try {
      const request = () => () => ({ path: "/completions" as const, body: { prompt: "x", max_tokens: tokens, stream: true } });
      await runLoad({ baseURL: server.url, model: "instant", transport, concurrency, requestsPerWorker: 1, maxSeconds: 60, requestFor: request });
      const r = await runLoad({ baseURL: server.url, model: "instant", transport, concurrency, requestsPerWorker: Number(values.requests), maxSeconds: 60, requestFor: request });
      rates[kind] = r.tokensPerSecond;
      rows.push(`| ${concurrency} | ${kind} | ${r.tokensPerSecond} | ${r.e2eMs.p50} | ${(r.e2eMs.p50 / tokens).toFixed(4)} |`);
      process.stderr.write(`${kind} × ${concurrency}: ${r.tokensPerSecond} chunks/s\n`);
    } finally {
      server.stop();
    }
  }
  ratios.push(`| ${concurrency} | ${(rates.gateway! / rates.bare!).toFixed(2)} | ${(rates["gateway-ws"]! / rates.bare!).toFixed(2)} |`);
}
console.log([...rows, "", "| streams | gateway SSE / bare | gateway WebSocket / bare |", "|---|---|---|", ...ratios].join("\n"));
