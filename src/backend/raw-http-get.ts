import { connect, type Socket } from "node:net";

/**
 * A response the fast path does not handle (no Content-Length, a chunked body, not HTTP/1.x,
 * more bytes than announced): the caller makes the request again through its general client.
 * A connection that cannot be made, breaks or stays silent fails with Node's error instead
 * (its `code`: ECONNREFUSED, ECONNRESET, ...; a silence is named TimeoutError).
 */
export class RawGetFailed extends Error {}

export interface RawGetOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** How long a request may stay silent; also how long a connection stays open unused. */
  idleTimeoutMs: number;
  /** Connections kept open between requests. */
  maxIdle: number;
}

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
  /** The body, in a buffer of its own (never Node's pool: it can be transferred). */
  body: Buffer;
}

/** Bytes a read from a connection lands in: reused for every read of that connection. */
const READ_BUFFER = 64 * 1024;
/** A response head larger than this is not one the fast path handles. */
const MAX_HEAD = 64 * 1024;

/**
 * GETs over plain HTTP/1.1 with kept-alive connections, for the bulk downloads of a restore.
 * Node's HTTP client allocates a buffer for every read from a socket, copies each piece of a
 * body once more in its parser, and hands it through streams; a restore from S3 went through
 * 1.4 GB of new memory (390,000 page faults on its main thread) for 480 MB fetched. Here each
 * connection reads into one buffer of its own (`onread`), and a body's bytes are copied once,
 * from it into the body's buffer. Only responses with a Content-Length are handled (any
 * status: the caller reads an error's body); anything else fails with RawGetFailed.
 */
export class RawHttpGetter {
  readonly #idle: Connection[] = [];
  #closed = false;

  constructor(private readonly opts: RawGetOptions) {}

  /** GETs `path` with `headers` (the Host header among them). */
  async get(path: string, headers: Record<string, string>): Promise<RawResponse> {
    const head = `GET ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("")}\r\n`;
    const reused = this.#idle.pop();
    if (reused) {
      try {
        return await reused.request(head);
      } catch (err) {
        // A kept-alive connection the server had closed meanwhile: once more on a new one.
        if (!(err instanceof StaleConnection)) throw err;
      }
    }
    return new Connection(this.opts, (c) => this.#release(c)).request(head);
  }

  /** Closes the connections kept open. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.destroy();
  }

  #release(c: Connection): void {
    if (this.#closed || this.#idle.length >= this.opts.maxIdle) c.destroy();
    else this.#idle.push(c);
  }
}

/** A kept-alive connection failed before any byte of the response: the server had closed it. */
class StaleConnection extends Error {}

/** Node's kind of error for a connection that failed: `code` (ECONNRESET, ...) or a TimeoutError. */
function networkError(message: string, code: string | undefined): Error {
  const err = new Error(message);
  if (code === undefined) err.name = "TimeoutError";
  else Object.assign(err, { code });
  return err;
}

interface Request {
  resolve: (r: RawResponse) => void;
  reject: (e: Error) => void;
  head: Buffer[];
  headBytes: number;
  response?: RawResponse;
  received: number;
  keepAlive: boolean;
  /** An error's chunked body, as it arrives (then decoded: see #chunkedError). */
  chunked?: Buffer[];
  gotBytes: boolean;
}

class Connection {
  readonly #socket: Socket;
  #req: Request | undefined;
  #used = false;
  #dead = false;
  #connected = false;

  constructor(
    private readonly opts: RawGetOptions,
    private readonly release: (c: Connection) => void,
  ) {
    this.#socket = connect({
      host: opts.host,
      port: opts.port,
      onread: {
        buffer: Buffer.allocUnsafeSlow(READ_BUFFER),
        callback: (n: number, buf: Uint8Array) => {
          this.#onData(buf, n);
          return true;
        },
      },
    });
    this.#socket.setNoDelay(true);
    const connectTimer = setTimeout(() => this.#fail(networkError(`connecting to ${opts.host}:${opts.port} timed out`, undefined)), opts.connectTimeoutMs);
    this.#socket.once("connect", () => {
      this.#connected = true;
      clearTimeout(connectTimer);
    });
    this.#socket.setTimeout(opts.idleTimeoutMs, () => this.#fail(networkError("the server stayed silent too long", undefined)));
    this.#socket.on("error", (err) => this.#fail(err));
    this.#socket.on("close", () => {
      clearTimeout(connectTimer);
      this.#fail(networkError("the server closed the connection", "ECONNRESET"));
    });
  }

  request(head: string): Promise<RawResponse> {
    if (this.#dead) return Promise.reject(new StaleConnection("the connection is closed"));
    const stale = this.#used;
    this.#used = true;
    this.#socket.ref();
    return new Promise<RawResponse>((resolve, reject) => {
      const req: Request = { resolve, reject, head: [], headBytes: 0, received: 0, keepAlive: true, gotBytes: false };
      // On a kept-alive connection, a failure before any byte of the answer is a stale one.
      if (stale) req.reject = (e) => reject(req.gotBytes || e instanceof StaleConnection ? e : new StaleConnection(e.message));
      this.#req = req;
      this.#socket.write(head);
    });
  }

  destroy(): void {
    this.#dead = true;
    this.#socket.destroy();
  }

  #fail(err: Error): void {
    const req = this.#req;
    this.#req = undefined;
    this.destroy();
    req?.reject(err);
  }

  #onData(buf: Uint8Array, n: number): void {
    const req = this.#req;
    if (!req) {
      this.#fail(new RawGetFailed("the server sent bytes nobody asked for"));
      return;
    }
    req.gotBytes = true;
    if (!req.response) {
      req.head.push(Buffer.from(buf.subarray(0, n)));
      req.headBytes += n;
      const all = req.head.length === 1 ? (req.head[0] as Buffer) : Buffer.concat(req.head);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) {
        if (req.headBytes > MAX_HEAD) this.#fail(new RawGetFailed("the response's head is too long"));
        else req.head = [all];
        return;
      }
      const response = this.#parseHead(all.subarray(0, end).toString("latin1"), req);
      if (!response) return;
      req.response = response;
      const rest = all.subarray(end + 4);
      if (req.chunked) {
        this.#chunkedError(req, rest);
        return;
      }
      if (rest.length > response.body.length) {
        this.#fail(new RawGetFailed("the server sent more than the Content-Length"));
        return;
      }
      rest.copy(response.body, 0);
      req.received = rest.length;
    } else if (req.chunked) {
      this.#chunkedError(req, Buffer.from(buf.subarray(0, n)));
      return;
    } else {
      if (req.received + n > req.response.body.length) {
        this.#fail(new RawGetFailed("the server sent more than the Content-Length"));
        return;
      }
      req.response.body.set(n === buf.length ? buf : buf.subarray(0, n), req.received);
      req.received += n;
    }
    if (req.received === req.response.body.length) this.#complete(req);
  }

  /** The response from its head, with its body's buffer; undefined after failing the request. */
  #parseHead(text: string, req: Request): RawResponse | undefined {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
    if (!m) {
      this.#fail(new RawGetFailed("the server's answer is not HTTP/1.x"));
      return undefined;
    }
    const status = Number(m[2]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? Number.NaN);
    const te = headers.get("transfer-encoding")?.toLowerCase();
    if (te === "chunked" && status >= 400) {
      req.chunked = [];
      return { status, headers, body: Buffer.alloc(0) };
    }
    if (!Number.isSafeInteger(length) || length < 0 || (te !== undefined && te !== "identity")) {
      this.#fail(new RawGetFailed(`HTTP ${status} without a Content-Length`));
      return undefined;
    }
    const connection = headers.get("connection")?.toLowerCase();
    req.keepAlive = m[1] === "1" ? connection !== "close" : connection === "keep-alive";
    return { status, headers, body: Buffer.allocUnsafeSlow(length) };
  }

  /**
   * An error's body sent in chunks (Node's own servers do): collected until its last chunk,
   * then decoded; the connection is closed after it. Error bodies are small.
   */
  #chunkedError(req: Request, bytes: Buffer): void {
    const parts = req.chunked as Buffer[];
    parts.push(bytes);
    const all = Buffer.concat(parts);
    req.chunked = [all];
    const chunks: Buffer[] = [];
    for (let at = 0; ; ) {
      const eol = all.indexOf("\r\n", at);
      if (eol < 0) break;
      const size = Number.parseInt(all.subarray(at, eol).toString("latin1"), 16);
      if (!Number.isSafeInteger(size) || size < 0) {
        this.#fail(new RawGetFailed("a malformed chunked body"));
        return;
      }
      if (size === 0) {
        (req.response as RawResponse).body = Buffer.concat(chunks);
        req.keepAlive = false;
        this.#complete(req);
        return;
      }
      if (all.length < eol + 2 + size + 2) break;
      chunks.push(all.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    if (all.length > MAX_HEAD) this.#fail(new RawGetFailed("an error's body is too long"));
  }

  #complete(req: Request): void {
    this.#req = undefined;
    const response = req.response as RawResponse;
    if (req.keepAlive && this.#connected) {
      this.#socket.unref();
      this.release(this);
    } else {
      this.destroy();
    }
    req.resolve(response);
  }
}
