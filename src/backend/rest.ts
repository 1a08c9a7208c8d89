import http from "node:http";
import https from "node:https";
import { CofferError, sysCode } from "../core/errors.js";
import {
  checkHandle,
  isNotFoundError,
  isPermanentError,
  loadRange,
  notFoundError,
  typeDir,
  type Backend,
  type BackendProperties,
  type FileInfo,
  type FileType,
  type Handle,
  type LoadOptions,
} from "./backend.js";

/**
 * The REST protocol v2 of restic's rest-server, which `rclone serve restic` speaks too:
 * `GET|HEAD|POST|DELETE /{type}/{name}` (and `/config`), `GET /{type}/` with the v2 Accept
 * header lists `[{name, size}]`, `POST /?create=true` creates the repository. Types are the
 * directory names of the local layout (keys, snapshots, locks, ...); data files are not split
 * into subdirectories in URLs. The server stores what it is given and verifies nothing; the
 * repository layer verifies every byte read.
 */
export interface RestOptions {
  /** `http(s)://[user:pass@]host:port/path`. */
  url: string;
  /** Requests at once (sockets of the agent). Default 5. */
  connections?: number;
  /** A request with no progress for this long fails (transient, retried). Default 60 s. */
  timeoutMs?: number;
  /** The location shown to people; default the URL without its password. */
  location?: string;
}

const V2 = "application/vnd.x.restic.rest.v2";
const PERMANENT_STATUS = new Set([400, 401, 403, 405, 411, 413, 414, 415]);

/** Parses `rest:URL` (the prefix optional) into RestOptions. */
export function parseRestUrl(url: string): RestOptions {
  const raw = url.startsWith("rest:") ? url.slice(5) : url;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CofferError("USAGE", `${JSON.stringify(url)} is not a REST repository URL; write it as rest:http://host:port/path.`, { url });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new CofferError("USAGE", `${JSON.stringify(url)} is not a REST repository URL; write it as rest:http://host:port/path (or https).`, { url });
  }
  return { url: u.href };
}

export class RestBackend implements Backend {
  readonly properties: BackendProperties;
  readonly location: string;
  readonly #base: URL;
  readonly #auth: string | undefined;
  readonly #agent: http.Agent;
  readonly #timeoutMs: number;

  constructor(opts: RestOptions) {
    const u = new URL(opts.url);
    if (!u.pathname.endsWith("/")) u.pathname += "/";
    this.#auth = u.username !== "" ? "Basic " + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64") : undefined;
    const shown = new URL(u.href);
    shown.password = "";
    u.username = "";
    u.password = "";
    this.#base = u;
    this.location = opts.location ?? `rest:${shown.href}`;
    const connections = opts.connections ?? 5;
    this.properties = { kind: "rest", connections, atomicReplace: true, remote: !["localhost", "127.0.0.1", "[::1]"].includes(u.hostname) };
    const agentOpts = { keepAlive: true, maxSockets: connections };
    this.#agent = u.protocol === "https:" ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async create(): Promise<void> {
    const r = await this.#request("HEAD", "config");
    if (r.status === 200) throw new CofferError("REPO_EXISTS", `A repository already exists at ${this.location}.`);
    if (r.status !== 404) throw this.#statusError(r, "HEAD", "config");
    const c = await this.#request("POST", "?create=true");
    if (c.status !== 200) throw this.#statusError(c, "POST", "?create=true");
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    checkHandle(h);
    const r = await this.#request("POST", this.#path(h), { body: data });
    if (r.status !== 200) throw this.#statusError(r, "POST", this.#path(h), h);
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    checkHandle(h);
    // Validates the numbers (INVALID) before any request; the size is checked below.
    loadRange(h, Number.MAX_SAFE_INTEGER, opts);
    const offset = opts?.offset ?? 0;
    const length = opts?.length;
    if (length === 0 || (offset === 0 && length === undefined)) {
      if (length === 0) return this.#emptyRange(h, opts);
      const r = await this.#request("GET", this.#path(h));
      if (r.status === 200) return r.body;
      throw this.#statusError(r, "GET", this.#path(h), h);
    }
    const range = `bytes=${offset}-${length !== undefined ? offset + length - 1 : ""}`;
    const r = await this.#request("GET", this.#path(h), { headers: { Range: range } });
    if (r.status === 206 || (r.status === 200 && offset === 0)) {
      const body = r.status === 200 ? r.body.subarray(0, length ?? r.body.length) : r.body;
      // An empty answer to an open range may mean an offset past the end: checked below.
      if (length === undefined ? body.length > 0 : body.length === length) return Buffer.from(body);
    } else if (r.status !== 416) {
      throw this.#statusError(r, "GET", this.#path(h), h);
    }
    // Short or unsatisfiable: the file's size says whether the range was past the end (CORRUPT).
    return this.#emptyRange(h, opts);
  }

  /** A range of 0 bytes, or one the server could not give: checked against the real size. */
  async #emptyRange(h: Handle, opts: LoadOptions | undefined): Promise<Buffer> {
    const { size } = await this.stat(h);
    const { length } = loadRange(h, size, opts);
    if (length === 0) return Buffer.alloc(0);
    throw new CofferError("CORRUPT", `The server at ${this.location} returned fewer bytes of ${this.#path(h)} than asked for.`, { type: h.type, name: h.name, size, ...opts });
  }

  async stat(h: Handle): Promise<FileInfo> {
    checkHandle(h);
    const r = await this.#request("HEAD", this.#path(h));
    if (r.status !== 200) throw this.#statusError(r, "HEAD", this.#path(h), h);
    const size = Number(r.headers["content-length"]);
    if (!Number.isSafeInteger(size) || size < 0) throw new CofferError("BACKEND", `The server at ${this.location} gave no size for ${this.#path(h)}.`, { type: h.type, name: h.name });
    return { name: h.name, size };
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === "config") {
      try {
        yield await this.stat({ type, name: "" });
      } catch (err) {
        if (!this.isNotFound(err)) throw err;
      }
      return;
    }
    const path = `${typeDir(type)}/`;
    const r = await this.#request("GET", path, { headers: { Accept: V2 } });
    if (r.status === 404) return; // a type directory that was never written
    if (r.status !== 200) throw this.#statusError(r, "GET", path);
    let items: unknown;
    try {
      items = JSON.parse(r.body.toString("utf8"));
    } catch {
      throw new CofferError("BACKEND", `The server at ${this.location} sent a listing of ${path} that is not JSON; is it a restic REST server (protocol v2)?`, { path });
    }
    if (!Array.isArray(items)) throw new CofferError("BACKEND", `The server at ${this.location} sent a listing of ${path} that is not a list.`, { path });
    for (const it of items as { name?: unknown; size?: unknown }[]) {
      if (typeof it === "string") throw new CofferError("BACKEND", `The server at ${this.location} speaks REST protocol v1 only; coffer needs v2 (rest-server 0.9 or later, rclone serve restic).`, { path });
      if (typeof it?.name !== "string" || typeof it.size !== "number") continue;
      yield { name: it.name, size: it.size };
    }
  }

  async remove(h: Handle): Promise<void> {
    checkHandle(h);
    const r = await this.#request("DELETE", this.#path(h));
    if (r.status !== 200 && r.status !== 204) throw this.#statusError(r, "DELETE", this.#path(h), h);
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    if (err instanceof CofferError && typeof err.data["status"] === "number") return PERMANENT_STATUS.has(err.data["status"]);
    return isPermanentError(err);
  }

  #path(h: Handle): string {
    return h.type === "config" ? "config" : `${typeDir(h.type)}/${h.name}`;
  }

  #statusError(r: Reply, method: string, path: string, h?: Handle): CofferError {
    if (r.status === 404 && h) return notFoundError(h, this.location);
    const text = r.body.toString("utf8").trim().slice(0, 200);
    const detail = text ? `: ${text}` : "";
    const where = `${method} ${path} at ${this.location}`;
    if (r.status === 401 || r.status === 403) {
      return new CofferError("BACKEND", `The REST server refused ${where} (HTTP ${r.status}); check the user and password in the URL.`, { status: r.status });
    }
    if (r.status === 507) return new CofferError("NO_SPACE", `The REST server is out of space (${where}).`, { status: r.status });
    if (r.status === 404) return new CofferError("REPO_MISSING", `The REST server has no repository at ${this.location} (${method} ${path} gave 404); create one with "coffer init".`, { status: r.status });
    return new CofferError("BACKEND", `${where} failed with HTTP ${r.status}${detail}.`, { status: r.status });
  }

  #request(method: string, path: string, opts: { body?: Uint8Array; headers?: Record<string, string> } = {}): Promise<Reply> {
    const url = new URL(path, this.#base);
    const headers: Record<string, string | number> = { ...opts.headers };
    if (this.#auth) headers["Authorization"] = this.#auth;
    if (opts.body) {
      headers["Content-Type"] = "application/octet-stream";
      headers["Content-Length"] = opts.body.byteLength;
    } else if (method === "POST" || method === "DELETE") headers["Content-Length"] = 0;
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<Reply>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(this.#networkError(err, method, path)));
        res.on("end", () => {
          if (!res.complete) return reject(new CofferError("BACKEND", `The connection to ${this.location} broke during ${method} ${path}.`, { path }));
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      req.setTimeout(this.#timeoutMs, () => req.destroy(new CofferError("BACKEND", `${method} ${path} at ${this.location} made no progress for ${this.#timeoutMs / 1000} s.`, { path, sys: "ETIMEDOUT" })));
      req.on("error", (err) => reject(this.#networkError(err, method, path)));
      req.end(opts.body ? Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength) : undefined);
    });
  }

  #networkError(err: unknown, method: string, path: string): CofferError {
    if (err instanceof CofferError) return err;
    const sys = sysCode(err);
    const why =
      sys === "ECONNREFUSED" ? "nothing listens there (is the server running?)" : sys === "ENOTFOUND" ? "the host name does not resolve" : (err as Error).message;
    // Network errors are transient for the retry wrapper: sys is kept out of data on purpose.
    return new CofferError("BACKEND", `Cannot reach the REST server at ${this.location} (${method} ${path}): ${why}.`, { path, ...(sys ? { errno: sys } : {}) }, { cause: err });
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
