import type { FastifyRequest } from "fastify";

/**
 * Which browser origins may call the API: `*`, or a comma-separated list of origins in which `*` matches
 * any run of characters (`http://localhost:*` is every port of localhost; `https://*.example.com` every
 * subdomain). Empty: none (same-origin pages only, such as the playground).
 */
export class OriginPolicy {
  private readonly patterns: RegExp[];
  readonly any: boolean;

  constructor(list: string) {
    const entries = list.split(",").map((s) => s.trim()).filter(Boolean);
    this.any = entries.includes("*");
    this.patterns = entries.map((entry) => new RegExp(`^${entry.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")}$`, "i"));
  }

  allows(origin: string): boolean {
    return this.any || this.patterns.some((pattern) => pattern.test(origin));
  }

  /** A browser page may use this request: no Origin (not a browser, or a same-origin GET), its own origin, or an allowed one. */
  admits(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (!origin) return true;
    return this.allows(origin) || sameOrigin(origin, request);
  }
}

function sameOrigin(origin: string, request: FastifyRequest): boolean {
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
