import { createServer, request as forward, type Server } from "node:http";
import { once } from "node:events";

/** A reverse proxy that serves `target` under `prefix` (stripping it), as an ingress with a path prefix does. */
export async function startPrefixProxy(prefix: string, target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith(prefix)) return void res.writeHead(404).end();
    const path = req.url.slice(prefix.length) || "/";
    const outgoing = forward({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
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
