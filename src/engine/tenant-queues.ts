/** Who a waiting request belongs to and how it ranks: the API key's name, its share weight, and the request's priority (lower first). */
export interface Ticket {
  tenant: string;
  weight: number;
  priority: number;
}

export const ANONYMOUS_TICKET: Ticket = { tenant: "anonymous", weight: 1, priority: 0 };

interface Entry<W> {
  item: W;
  ticket: Ticket;
  seq: number;
}

interface Tenant<W> {
  entries: Entry<W>[];
  /** Service received, in requests per unit of weight (stride scheduling's pass). */
  pass: number;
}

/**
 * The waiting requests of one model, by tenant. `fair`: the next request comes from the tenant that has
 * received the least service per unit of weight (stride scheduling), so tenants share slots by weight
 * whatever their backlog; a tenant that was idle starts level with the others instead of with credit saved
 * up. `fifo`: the oldest request first, whoever sent it. Within a tenant (and in fifo), lower priority
 * values go first, then arrival order. Work-conserving either way: any waiting request can be taken.
 */
export class TenantQueues<W> {
  private readonly tenants = new Map<string, Tenant<W>>();
  private virtualTime = 0;
  private seq = 0;
  private count = 0;

  constructor(private readonly policy: "fair" | "fifo") {}

  get size(): number {
    return this.count;
  }

  countOf(tenant: string): number {
    return this.tenants.get(tenant)?.entries.length ?? 0;
  }

  /** Requests waiting per tenant (tenants with none are left out). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.tenants].filter(([, t]) => t.entries.length > 0).map(([name, t]) => [name, t.entries.length]));
  }

  push(item: W, ticket: Ticket): Entry<W> {
    let tenant = this.tenants.get(ticket.tenant);
    if (!tenant) this.tenants.set(ticket.tenant, (tenant = { entries: [], pass: 0 }));
    if (tenant.entries.length === 0) tenant.pass = Math.max(tenant.pass, this.virtualTime);
    const entry = { item, ticket, seq: this.seq++ };
    const at = tenant.entries.findIndex((e) => e.ticket.priority > ticket.priority);
    tenant.entries.splice(at === -1 ? tenant.entries.length : at, 0, entry);
    this.count++;
    return entry;
  }

  remove(entry: Entry<W>): void {
    const tenant = this.tenants.get(entry.ticket.tenant);
    const index = tenant?.entries.indexOf(entry) ?? -1;
    if (index === -1) return;
    tenant!.entries.splice(index, 1);
    this.count--;
  }

  /** A request of `ticket`'s tenant got a slot without waiting: it counts as service all the same. */
  charge(ticket: Ticket): void {
    let tenant = this.tenants.get(ticket.tenant);
    if (!tenant) this.tenants.set(ticket.tenant, (tenant = { entries: [], pass: 0 }));
    if (tenant.entries.length === 0) tenant.pass = Math.max(tenant.pass, this.virtualTime);
    this.serve(tenant, ticket);
  }

  /** The next request to serve, taken out of the queue. */
  shift(): W | undefined {
    let chosen: Tenant<W> | undefined;
    for (const tenant of this.tenants.values()) {
      const head = tenant.entries[0];
      if (!head) continue;
      if (!chosen || this.before(tenant, chosen)) chosen = tenant;
    }
    const entry = chosen?.entries.shift();
    if (!chosen || !entry) return undefined;
    this.count--;
    this.serve(chosen, entry.ticket);
    return entry.item;
  }

  private serve(tenant: Tenant<W>, ticket: Ticket): void {
    this.virtualTime = Math.max(this.virtualTime, tenant.pass);
    tenant.pass += 1 / ticket.weight;
  }

  private before(a: Tenant<W>, b: Tenant<W>): boolean {
    const [headA, headB] = [a.entries[0]!, b.entries[0]!];
    if (this.policy === "fifo") return headA.ticket.priority !== headB.ticket.priority ? headA.ticket.priority < headB.ticket.priority : headA.seq < headB.seq;
    return a.pass !== b.pass ? a.pass < b.pass : headA.seq < headB.seq;
  }
}
