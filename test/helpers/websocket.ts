import { once } from "node:events";
import WebSocket from "ws";
import type { TestGateway } from "./gateway.js";

export type Message = any;

/** A ws client that collects every server message and can wait for one. */
export class TestSocket {
  readonly messages: Message[] = [];
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => (w.match(message) ? (w.resolve(message), false) : true));
    });
  }
  static async open(gw: TestGateway, options: WebSocket.ClientOptions = {}): Promise<TestSocket> {
    const ws = new WebSocket(`${gw.baseURL.replace(/^http/, "ws")}/ws`, options);
    await once(ws, "open");
    return new TestSocket(ws);
  }
  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }
  next(match: (m: Message) => boolean): Promise<Message> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
  forId(id: string): Message[] {
    return this.messages.filter((m) => m.id === id);
  }
  close(): void {
    this.ws.close();
  }
}
