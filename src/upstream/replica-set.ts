import { Resolver, lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "pino";
import type { ModelEntryConfig } from "../config/schema.js";
import type { Replica } from "./routing.js";

export type UpstreamConfig = NonNullable<ModelEntryConfig["upstreams"]>[number];

/** One server a request can go to: a configured upstream, or one address of a DNS-discovered one. */
export interface Upstream extends Replica {
  apiKey?: string;
  model?: string;
}

const DNS_SCHEME = /^dns\+(https?):\/\//;

/**
 * The upstreams of one model. A plain URL is one replica; a `dns+http://name:port/path` URL is one replica per
 * address the name resolves to (a Kubernetes headless Service lists one per ready pod), resolved again every
 * `refreshMs` so that scaling the replicas changes the set without a restart. A failed resolution keeps the last set.
 */
export class ReplicaSet {
  private readonly fixed: Upstream[];
  private readonly discovered = new Map<number, Upstream[]>();
  private readonly resolver = new Resolver();
  private readonly timer?: NodeJS.Timeout;
  /** Settles once every DNS upstream has been resolved once (successfully or not). */
  readonly ready: Promise<void>;

  constructor(
    private readonly configs: UpstreamConfig[],
    { refreshMs, servers }: { refreshMs: number; servers: string[] },
    private readonly log: Logger,
    private readonly model: string,
  ) {
    if (servers.length > 0) this.resolver.setServers(servers);
    this.fixed = configs.filter((c) => !DNS_SCHEME.test(c.url)).map((c) => replica(c, c.url));
    const dynamic = configs.some((c) => DNS_SCHEME.test(c.url));
    this.ready = dynamic ? this.refresh() : Promise.resolve();
    if (dynamic) {
      this.timer = setInterval(() => void this.refresh(), refreshMs);
      this.timer.unref();
    }
  }

  /** Every replica now: the fixed ones, then each DNS upstream's addresses. */
  all(): Upstream[] {
    return [...this.fixed, ...[...this.discovered.values()].flat()];
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    await Promise.all(
      this.configs.map(async (config, index) => {
        const match = DNS_SCHEME.exec(config.url);
        if (!match) return;
        const url = new URL(config.url.replace(DNS_SCHEME, `${match[1]}://`));
        let addresses: string[];
        try {
          addresses = await this.addresses(url.hostname);
        } catch (error) {
          this.log.warn({ model: this.model, upstream: config.url, err: (error as Error).message }, "upstream discovery: DNS failed; keeping the replicas found before");
          return;
        }
        const previous = new Map((this.discovered.get(index) ?? []).map((r) => [r.url, r]));
        const next = addresses.sort().map((address) => {
          const target = new URL(url);
          target.hostname = isIP(address) === 6 ? `[${address}]` : address;
          const href = target.href.replace(/\/$/, "");
          return previous.get(href) ?? replica(config, href); // a known replica keeps its counters and health
        });
        const before = [...previous.keys()].sort().join(",");
        const after = next.map((r) => r.url).join(",");
        if (before !== after) this.log.info({ model: this.model, upstream: config.url, replicas: next.map((r) => r.url) }, `upstream discovery: ${next.length} replica(s)`);
        this.discovered.set(index, next);
      }),
    );
  }

  /** A and AAAA records (the resolver's servers: a headless Service's addresses), else the system's lookup (hosts file, search domains). */
  private async addresses(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    const [v4, v6] = await Promise.all([this.resolver.resolve4(host).catch(() => []), this.resolver.resolve6(host).catch(() => [])]);
    if (v4.length + v6.length > 0) return [...v4, ...v6];
    return (await lookup(host, { all: true })).map((a) => a.address);
  }
}

function replica(config: UpstreamConfig, url: string): Upstream {
  return { url, weight: config.weight ?? 1, outstanding: 0, healthy: true, ...(config.apiKey ? { apiKey: config.apiKey } : {}), ...(config.model ? { model: config.model } : {}) };
}
