// A TCP proxy on loopback that a test can pause: every byte in both directions is held while
// it is paused and passed on when it resumes, so a client process stops exactly where it is
// (in the middle of a request, holding whatever it holds) without being told or killed. It can
// also pause itself at a given HTTP request, before the server sees it.
import { createConnection, createServer, type Socket } from "node:net";

/** An HTTP request as its request line shows it. */
export interface HttpRequest {
  method: string;
  /** The path and query, as sent. */
  path: string;
}

export interface TcpProxy {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  /** Holds every byte from now on (connections stay open; new ones are accepted and held too). */
  pause(): void;
  /**
   * Pauses the proxy when a request `match` accepts arrives, before it is passed on (and with
   * it everything after, on every connection). Resolves with that request.
   */
  pauseAt(match: (r: HttpRequest) => boolean): Promise<HttpRequest>;
  /** Passes on what was held, then everything as it comes. */
  resume(): void;
  close(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n)([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/g;

/** Forwards 127.0.0.1:<a free port> to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let paused = false;
  let trap: { match: (r: HttpRequest) => boolean; hit: (r: HttpRequest) => void } | undefined;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  /** Writes `chunk` to `to` now, or when the proxy resumes. */
  const forward = (to: Socket, chunk: Buffer): void => {
    if (paused || held.length > 0) held.push(() => to.write(chunk));
    else to.write(chunk);
  };
  /** Pauses before `chunk` when it starts a request the trap waits for. */
  const inspect = (chunk: Buffer): void => {
    if (!trap || paused) return;
    // Request lines are ASCII and come first in a write; pack bytes never look like one.
    for (const m of chunk.toString("latin1", 0, Math.min(chunk.length, 64 << 10)).matchAll(REQUEST_LINE)) {
      const r = { method: m[1] as string, path: m[2] as string };
      if (!trap.match(r)) continue;
      const { hit } = trap;
      trap = undefined;
      paused = true;
      hit(r);
      return;
    }
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      // A reset on one side closes the other; the test sees what the client sees.
      s.on("error", () => undefined);
    }
    client.on("data", (c: Buffer) => {
      inspect(c);
      forward(upstream, c);
    });
    upstream.on("data", (c: Buffer) => forward(client, c));
    const end = (to: Socket) => (): void => {
      if (paused || held.length > 0) held.push(() => to.end());
      else to.end();
    };
    client.on("end", end(upstream));
    upstream.on("end", end(client));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pause() {
      paused = true;
    },
    pauseAt(match) {
      return new Promise((hit) => (trap = { match, hit }));
    },
    resume() {
      paused = false;
      while (held.length > 0 && !paused) (held.shift() as () => void)();
    },
    async close() {
      trap = undefined;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
