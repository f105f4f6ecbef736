import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Errors of a connection the server closed or reset, as a reused keep-alive connection shows them before any response byte. */
const CLOSED_CONNECTION = new Set(["ECONNRESET", "EPIPE"]);

export interface UpstreamPost {
  url: string;
  headers: OutgoingHttpHeaders;
  body: string;
  signal: AbortSignal;
}

/**
 * POSTs to upstream servers over pooled keep-alive connections. A server may close an idle pooled
 * connection at the moment a request is written to it (llama-server's HTTP library closes after a few
 * requests or a few idle seconds; Node and nginx after their keep-alive timeouts): that request fails
 * before any byte of the response, and the server never saw it. Such a request, and only such a request
 * (a reused connection, closed or reset, no response yet), is sent once more on a fresh connection, as
 * nginx and Envoy do. A fresh connection that fails is the caller's failure: the server may have read it.
 */
export class UpstreamClient {
  private readonly agents: { http: HttpAgent; https: HttpsAgent };
  /** Requests sent again after a reused connection closed under them. */
  retries = 0;

  constructor(
    idleTimeoutMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    // Idle pooled connections are closed before the server would close them (common keep-alive timeouts: 5 s).
    const options = { keepAlive: true, timeout: idleTimeoutMs, scheduling: "lifo" as const };
    this.agents = { http: new HttpAgent(options), https: new HttpsAgent(options) };
  }

  async post(post: UpstreamPost): Promise<IncomingMessage> {
    try {
      return await this.send(post, true);
    } catch (error) {
      if (!(error instanceof ReusedConnectionClosed) || post.signal.aborted) throw error instanceof ReusedConnectionClosed ? error.cause : error;
      this.retries++;
      return this.send(post, false);
    }
  }

  private send({ url, headers, body, signal }: UpstreamPost, pooled: boolean): Promise<IncomingMessage> {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    return new Promise((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(target, {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        agent: pooled ? (secure ? this.agents.https : this.agents.http) : false, // false: a connection of its own
        signal,
      });
      let responded = false;
      // The connection (TCP, and TLS for https) must be up within connectTimeoutMs; a pooled one already is.
      let connectTimer: NodeJS.Timeout | undefined;
      request.once("socket", (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => request.destroy(new Error(`no connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        socket.once(secure ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
      });
      request.once("response", (response) => {
        responded = true;
        resolve(response);
      });
      request.once("close", () => clearTimeout(connectTimer)); // after an error too
      request.once("error", (error: NodeJS.ErrnoException) => {
        reject(pooled && request.reusedSocket && !responded && CLOSED_CONNECTION.has(error.code ?? "") ? new ReusedConnectionClosed(error) : error);
      });
      request.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

class ReusedConnectionClosed extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/** A whole response body as text (error bodies are small). */
export async function bodyText(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const piece of response) text += piece;
  return text;
}
