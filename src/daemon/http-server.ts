/**
 * The daemon's HTTP endpoint, on 127.0.0.1 only (the loopback address is fixed, not
 * configurable: status and metrics name paths and jobs, and nothing here authenticates):
 * `GET /healthz` (200 unless a check is critical, 503 then; JSON report), `GET /metrics`
 * (Prometheus text), `GET /status` (JSON). HEAD works too; anything else is 404 or 405.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CofferError, sysCode } from "../core/errors.js";
import type { HealthReport } from "./health.js";

export interface HttpRoutes {
  health(): Promise<HealthReport> | HealthReport;
  metrics(): Promise<string> | string;
  status(): Promise<unknown> | unknown;
}

export interface DaemonHttpServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const HTTP_HOST = "127.0.0.1";

/** Listens on 127.0.0.1:`port` (0: any free port). A port in use is LOCKED with a hint. */
export async function startHttpServer(port: number, routes: HttpRoutes, onError: (message: string) => void = () => undefined): Promise<DaemonHttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(405, "text/plain; charset=utf-8", "only GET and HEAD\n");
    }
    const json = (code: number, v: unknown): void => send(code, "application/json; charset=utf-8", JSON.stringify(v, null, 2) + "\n");
    Promise.resolve()
      .then(async () => {
        if (path === "/healthz") {
          const h = await routes.health();
          return json(h.status === "critical" ? 503 : 200, h);
        }
        if (path === "/metrics") return send(200, "text/plain; version=0.0.4; charset=utf-8", await routes.metrics());
        if (path === "/status") return json(200, await routes.status());
        if (path === "/") return send(200, "text/plain; charset=utf-8", "coffer daemon: GET /healthz, /metrics, /status\n");
        return send(404, "text/plain; charset=utf-8", "not found; try /healthz, /metrics or /status\n");
      })
      .catch((err: Error) => {
        onError(`HTTP ${path}: ${err.message}`);
        if (!res.headersSent) json(500, { error: err.message });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onErr = (err: Error): void => {
      reject(
        sysCode(err) === "EADDRINUSE"
          ? new CofferError("LOCKED", `Port ${port} on ${HTTP_HOST} is in use (another daemon, or another program); set health: port: in the configuration to a free one, or start with --port.`, { port }, { cause: err })
          : new CofferError("IO", `The daemon's HTTP server cannot listen on ${HTTP_HOST}:${port}: ${err.message}`, { port }, { cause: err }),
      );
    };
    server.once("error", onErr);
    server.listen(port, HTTP_HOST, () => {
      server.off("error", onErr);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${HTTP_HOST}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
