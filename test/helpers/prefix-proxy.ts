import { createServer, request as forward, type Server } from "node:http";
import { once } from "node:events";

/** One request through the proxy and what came back, for a test to read what a client was sent. */
export interface ProxiedExchange {
  method: string;
  path: string;
  status: number;
  body: string;
}

/**
 * A reverse proxy that serves `target` under `prefix` (stripping it), as an ingress with a path prefix does;
 * `record` is given each exchange once its answer has been passed on whole.
 */
export async function startPrefixProxy(prefix: string, target: string, record?: (exchange: ProxiedExchange) => void): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith(prefix)) return void res.writeHead(404).end();
    const path = req.url.slice(prefix.length) || "/";
    const outgoing = forward({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      if (record) {
        const chunks: Buffer[] = [];
        reply.on("data", (chunk: Buffer) => chunks.push(chunk));
        reply.on("end", () => record({ method: req.method ?? "GET", path, status: reply.statusCode ?? 502, body: Buffer.concat(chunks).toString("utf8") }));
      }
      reply.pipe(res);
    });
    res.on("close", () => outgoing.destroy());
    req.pipe(outgoing);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}
