import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";

/**
 * A DNS server of the test's own (UDP, A queries): it answers each name with the addresses the test sets, so that a
 * test can add and remove replicas of a "headless Service" as Kubernetes' DNS would.
 */
export class TestDnsServer {
  readonly records = new Map<string, string[]>();
  queries = 0;
  private constructor(private readonly socket: Socket) {}

  static async start(): Promise<TestDnsServer> {
    const socket = createSocket("udp4");
    const server = new TestDnsServer(socket);
    socket.on("message", (query, peer) => socket.send(server.answer(query), peer.port, peer.address));
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    return server;
  }

  /** ip:port, as a resolver's setServers takes it. */
  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): void {
    this.socket.close();
  }

  private answer(query: Buffer): Buffer {
    this.queries++;
    // Question: labels from byte 12, then QTYPE and QCLASS.
    const labels: string[] = [];
    let at = 12;
    while (query[at]! > 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString("ascii"));
      at += query[at]! + 1;
    }
    const questionEnd = at + 5;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join(".").toLowerCase();
    const known = this.records.has(name);
    const addresses = type === 1 ? (this.records.get(name) ?? []) : []; // A only; AAAA and others: no data
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // id
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion desired+available, NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4); // questions
    header.writeUInt16BE(addresses.length, 6); // answers
    const answers = addresses.map((address) => {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0); // name: pointer to the question's
      record.writeUInt16BE(1, 2); // A
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(1, 6); // TTL 1 s
      record.writeUInt16BE(4, 10);
      address.split(".").forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
      return record;
    });
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }
}
