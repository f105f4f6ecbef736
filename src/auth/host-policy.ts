import { hostname } from "node:os";

// DNS rebinding: a web page on attacker.example re-points its name at 127.0.0.1 and calls this server "same
// origin" (Host and Origin both attacker.example), past CORS. A server bound to loopback and open to anyone
// (no API keys) therefore answers only requests addressed to a loopback name or this machine's name, as Ollama
// does; http.allowedHosts adds names (a reverse proxy's). A server bound beyond loopback, or behind keys, takes
// any Host unless names are configured.

const LOOPBACK_NAME = /^(localhost|[\w.-]+\.localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

export class HostPolicy {
  private readonly patterns: RegExp[];
  private readonly enforced: boolean;
  private readonly machine = hostname().toLowerCase();

  constructor(allowedHosts: string, listensOnLoopback: boolean, keysEnabled: boolean) {
    const entries = allowedHosts.split(",").map((s) => s.trim()).filter(Boolean);
    this.patterns = entries.map((entry) => new RegExp(`^${entry.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`, "i"));
    this.enforced = entries.length > 0 || (listensOnLoopback && !keysEnabled);
  }

  /** Whether a request with this Host header (port and all) is served. */
  admits(hostHeader: string | undefined): boolean {
    if (!this.enforced || hostHeader === undefined) return true;
    const name = hostHeader.replace(/:\d+$/, "");
    return LOOPBACK_NAME.test(name) || name.toLowerCase() === this.machine || this.patterns.some((p) => p.test(name) || p.test(hostHeader));
  }
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
