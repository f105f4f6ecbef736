import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { PROJECT_ROOT } from "../engine/model-file.js";

export interface PlaygroundOptions {
  path: string;
  authRequired: boolean;
}

// One self-contained file (inline script and style), so it works unchanged behind any path prefix.
const PAGE_FILE = resolve(PROJECT_ROOT, "src/playground/playground.html");

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
const inline = (html: string, tag: string) => html.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`))?.[1] ?? "";

/** GET / (or playground.path): the chat page. Its CSP allows exactly its own inline script and style, and requests to this origin. */
export const playgroundRoute: FastifyPluginAsync<PlaygroundOptions> = async (app, { path, authRequired }) => {
  const html = readFileSync(PAGE_FILE, "utf8").replace("__AUTH__", authRequired ? "required" : "open");
  const csp = `default-src 'none'; script-src ${sha256(inline(html, "script"))}; style-src ${sha256(inline(html, "style"))}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  app.get(path, async (_, reply) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").header("content-security-policy", csp).header("x-content-type-options", "nosniff").send(html),
  );
};
