import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { S3Client } from "@aws-sdk/client-s3";
import { CofferError } from "../core/errors.js";
import {
  checkHandle,
  handlePath,
  isNotFoundError,
  isPermanentError,
  isValidHandle,
  loadRange,
  typeDir,
  type Backend,
  type BackendProperties,
  type FileInfo,
  type FileType,
  type Handle,
  type LoadOptions,
  type SaveOptions,
} from "./backend.js";
import { RawGetFailed, type RawHttpGetter, type RawResponse } from "./raw-http-get.js";
import { rawGetterFor, xmlError } from "./s3-raw-get.js";
import { isPermanentS3Error, s3Error, s3Status } from "./s3-error.js";
import { encodeKeyPath, signGet } from "./s3-sign.js";
import { formatS3Location, type S3Location } from "./s3-url.js";

type Sdk = typeof import("@aws-sdk/client-s3");

/**
 * The SDK is CommonJS: `require` loads it in 140-180 ms here, `import()` in 245-270 ms (an
 * ES module importing CommonJS first scans each file for its exports), a tenth of an
 * unchanged backup to S3.
 */
const requireHere = createRequire(import.meta.url);

export interface S3Options extends S3Location {
  /** Bucket in the path (`host/bucket/key`) rather than the host name; default: true with an endpoint, false for AWS. */
  pathStyle?: boolean;
  /** GETs from a server given by an `http://` URL without the SDK (default: true; see s3-raw-get.ts). */
  rawGet?: boolean;
  /** Default: the SDK's chain (AWS_REGION, the profile); us-east-1 for a server given by URL. */
  region?: string;
  /** Requests at once (default 5). */
  connections?: number;
  /** How long connecting may take (default 10 s). */
  connectTimeoutMs?: number;
  /** How long a request may stay silent, sending or receiving, before it fails (default 60 s). */
  idleTimeoutMs?: number;
  /** Default: the SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Keys per listing request (default and maximum 1000); smaller in tests of paging. */
  listPageSize?: number;
}

const DEFAULT_CONNECTIONS = 5;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;

/**
 * A repository in an S3 bucket (AWS, or any S3-compatible server: Ceph, MinIO, R2, ...), under
 * an optional key prefix, laid out by `handlePath`.
 *
 * A PUT is atomic in S3 (an object is visible whole or not at all) and replaces an existing
 * one, so `save` is one PutObject, with a digest the server checks the bytes against (the
 * caller's SHA-256 as the signed payload hash, else a Content-MD5). S3 deletes succeed for
 * missing keys, so `remove` asks first, to keep the contract's not-found error. The SDK is
 * loaded on first use (it takes a second or two), and does no retries of its own:
 * `RetryBackend` is the one place that retries.
 */
export class S3Backend implements Backend {
  readonly location: string;
  readonly properties: BackendProperties;
  readonly #opts: S3Options;
  readonly #root: string;
  readonly #server: string;
  #client: Promise<{ sdk: Sdk; client: S3Client }> | undefined;
  /** GETs around the SDK, for a server reached over plain HTTP with the bucket in the path. */
  readonly #raw: { getter: RawHttpGetter; host: string } | undefined;

  constructor(opts: S3Options) {
    this.#opts = opts;
    this.location = formatS3Location(opts);
    this.#root = opts.prefix === "" ? "" : `${opts.prefix}/`;
    this.#server = opts.endpoint ?? "AWS S3";
    this.properties = { kind: "s3", connections: opts.connections ?? DEFAULT_CONNECTIONS, atomicReplace: true, remote: true };
    this.#raw = rawGetterFor(opts, this.properties.connections);
  }

  async create(): Promise<void> {
    const { sdk, client } = await this.#sdk();
    const bucket = this.#opts.bucket;
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (s3Status(err).status !== 404) throw this.#error(err, "creating");
      try {
        const region = this.#opts.endpoint === undefined ? await client.config.region() : undefined;
        const where = region && region !== "us-east-1" ? { CreateBucketConfiguration: { LocationConstraint: region as never } } : {};
        await client.send(new sdk.CreateBucketCommand({ Bucket: bucket, ...where }));
      } catch (e) {
        // Made meanwhile by another process (or by us, on a retried request): fine.
        if (s3Status(e).code !== "BucketAlreadyOwnedByYou") throw this.#error(e, "creating the bucket of");
      }
    }
    if ((await this.#size({ type: "config", name: "" })) !== undefined) {
      throw new CofferError("REPO_EXISTS", `A repository already exists at ${this.location}.`, { location: this.location });
    }
  }

  async save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    checkHandle(h);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const sha256 = opts?.sha256;
    if (sha256 !== undefined && !SHA256_HEX.test(sha256)) {
      throw new CofferError("INVALID", `${JSON.stringify(sha256)} is not a SHA-256 for ${handlePath(h)}; this is a bug in coffer.`, { sha256 });
    }
    if (opts?.md5 !== undefined && !MD5_BASE64.test(opts.md5)) {
      throw new CofferError("INVALID", `${JSON.stringify(opts.md5)} is not an MD5 for ${handlePath(h)}; this is a bug in coffer.`, { md5: opts.md5 });
    }
    // A known SHA-256 goes as the signed payload hash, which the server checks the bytes
    // against (so the SDK need not hash 16 MiB again). Otherwise a Content-MD5 (the caller's,
    // or taken here) does that job, and the payload goes unsigned: the SDK would hash it again.
    const md5 = sha256 === undefined ? (opts?.md5 ?? createHash("md5").update(body).digest("base64")) : undefined;
    await this.#call("saving", h, (sdk, c) => {
      const cmd = new sdk.PutObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(h), Body: body, ContentLength: body.length, ...(md5 ? { ContentMD5: md5 } : {}) });
      cmd.middlewareStack.add(payloadHash(sha256 ?? "UNSIGNED-PAYLOAD"), { step: "build", name: "cofferPayloadHash" });
      return c.send(cmd);
    });
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    checkHandle(h);
    loadRange(h, Number.MAX_SAFE_INTEGER, opts); // INVALID before any request
    const offset = opts?.offset ?? 0;
    const length = opts?.length;
    // S3 has no empty range: the size alone says whether the read is within the file.
    if (length === 0) return this.#emptyRead(h, opts);
    const range = offset === 0 && length === undefined ? undefined : `bytes=${offset}-${length === undefined ? "" : offset + length - 1}`;
    if (this.#raw) {
      // A response the fast path does not handle: the SDK asks again.
      const data = await this.#rawLoad(this.#raw, h, opts, range).catch((err: unknown) => {
        if (err instanceof RawGetFailed) return undefined;
        throw err;
      });
      if (data) return data;
    }
    const { sdk, client } = await this.#sdk();
    let res;
    try {
      res = await client.send(new sdk.GetObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(h), ...(range ? { Range: range } : {}) }));
    } catch (err) {
      // The range starts at or past the end: empty when it starts exactly at the end.
      if (range && (s3Status(err).status === 416 || s3Status(err).code === "InvalidRange")) return this.#emptyRead(h, opts);
      throw this.#error(err, "loading", h);
    }
    const body = res.Body;
    try {
      if (!body) throw new Error("the response has no body");
      let want: number | undefined = res.ContentLength;
      if (range && res.ContentRange) {
        const total = Number(/\/(\d+)$/.exec(res.ContentRange)?.[1]);
        if (!Number.isSafeInteger(total)) throw new Error(`unexpected Content-Range ${JSON.stringify(res.ContentRange)}`);
        want = loadRange(h, total, opts).length; // CORRUPT when the range reaches past the end
      }
      let data = await readBody(body as unknown as AsyncIterable<Uint8Array>, res.ContentLength);
      if (range && !res.ContentRange) {
        // A server that ignores Range answers 200 with the whole object.
        const r = loadRange(h, data.length, opts);
        data = data.subarray(r.offset, r.offset + r.length);
        want = r.length;
      }
      if (want !== undefined && data.length !== want) throw new Error(`${data.length} of ${want} bytes arrived`);
      return data;
    } catch (err) {
      (body as { destroy?: () => void } | undefined)?.destroy?.();
      if (err instanceof CofferError) throw err;
      throw this.#error(err, "loading", h);
    }
  }

  /**
   * A GET through RawHttpGetter, signed here with the SDK's credentials and region: the whole
   * file (200) or exactly the range asked for (206). Errors are reported as through the SDK:
   * an S3 error's code from its XML body, Node's for a failed connection. RawGetFailed for a
   * response it does not handle (a redirect, a range other than the one asked for).
   */
  async #rawLoad(raw: { getter: RawHttpGetter; host: string }, h: Handle, opts: LoadOptions | undefined, range: string | undefined): Promise<Buffer> {
    let res: RawResponse;
    try {
      const { client } = await this.#sdk();
      const [credentials, region] = await Promise.all([client.config.credentials(), client.config.region()]);
      const path = `/${encodeKeyPath(this.#opts.bucket)}/${encodeKeyPath(this.#key(h))}`;
      // The SDK's clock offset: it corrects it when a server says the clock is off.
      const now = new Date(Date.now() + (client.config.systemClockOffset ?? 0));
      res = await raw.getter.get(path, signGet({ ...credentials, region }, raw.host, path, range ? { range } : {}, now));
    } catch (err) {
      if (err instanceof RawGetFailed) throw err;
      throw this.#error(err, "loading", h);
    }
    if (res.status >= 400) {
      const err = xmlError(res);
      // A clock off by more than S3 allows: the SDK's request corrects its offset, which this
      // path then signs with.
      if (err.name === "RequestTimeTooSkewed") throw new RawGetFailed(err.message);
      // The range starts at or past the end: empty when it starts exactly at the end.
      if (range && (res.status === 416 || err.name === "InvalidRange")) return this.#emptyRead(h, opts);
      throw this.#error(err, "loading", h);
    }
    if (res.status !== (range ? 206 : 200)) throw new RawGetFailed(`HTTP ${res.status}`);
    if (!range) return res.body;
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    if (!m || Number(m[1]) !== (opts?.offset ?? 0)) throw new RawGetFailed("unexpected Content-Range");
    // CORRUPT when the range reaches past the end, as through the SDK.
    const want = loadRange(h, Number(m[3]), opts).length;
    if (res.body.length !== want) throw this.#error(new Error(`${res.body.length} of ${want} bytes arrived`), "loading", h);
    return res.body;
  }

  async stat(h: Handle): Promise<FileInfo> {
    checkHandle(h);
    const res = await this.#call("reading the size of", h, (sdk, c) => c.send(new sdk.HeadObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(h) })));
    return { name: h.name, size: res.ContentLength ?? 0 };
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === "config") {
      const size = await this.#size({ type, name: "" });
      if (size !== undefined) yield { name: "", size };
      return;
    }
    const { sdk, client } = await this.#sdk();
    const dir = `${this.#root}${typeDir(type)}/`;
    let token: string | undefined;
    do {
      let page;
      try {
        // data/ has one level of subdirectories (data/<2 hex>/<id>); the others are flat.
        page = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.#opts.bucket, Prefix: dir, ...(this.#opts.listPageSize ? { MaxKeys: this.#opts.listPageSize } : {}), ...(type === "data" ? {} : { Delimiter: "/" }), ...(token ? { ContinuationToken: token } : {}) }),
        );
      } catch (err) {
        throw this.#error(err, "listing");
      }
      for (const obj of page.Contents ?? []) {
        const name = this.#nameOf(type, obj.Key ?? "");
        if (name !== undefined) yield { name, size: obj.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(h: Handle): Promise<void> {
    checkHandle(h);
    await this.stat(h); // S3 deletes a missing key without complaint; the contract wants NOT_FOUND.
    await this.#call("removing", h, (sdk, c) => c.send(new sdk.DeleteObjectCommand({ Bucket: this.#opts.bucket, Key: this.#key(h) })));
  }

  async close(): Promise<void> {
    this.#raw?.getter.close();
    const pending = this.#client;
    this.#client = undefined;
    if (pending) (await pending.catch(() => undefined))?.client.destroy();
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    return isPermanentError(err) || isPermanentS3Error(err);
  }

  #key(h: Handle): string {
    return this.#root + handlePath(h);
  }

  /** The handle name of a listed key, or undefined for keys that are not repository files. */
  #nameOf(type: FileType, key: string): string | undefined {
    const rel = key.slice(this.#root.length + typeDir(type).length + 1);
    const name = type === "data" ? rel.slice(3) : rel;
    if (type === "data" && rel.slice(0, 3) !== `${name.slice(0, 2)}/`) return undefined;
    return isValidHandle({ type, name }) ? name : undefined;
  }

  async #emptyRead(h: Handle, opts: LoadOptions | undefined): Promise<Buffer> {
    const { size } = await this.stat(h);
    loadRange(h, size, opts);
    return Buffer.alloc(0);
  }

  /** The size of a file, undefined when it does not exist. */
  async #size(h: Handle): Promise<number | undefined> {
    try {
      return (await this.stat(h)).size;
    } catch (err) {
      if (this.isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Runs one request, mapping whatever it throws to a CofferError. */
  async #call<T>(verb: string, h: Handle | undefined, fn: (sdk: Sdk, client: S3Client) => Promise<T>): Promise<T> {
    const { sdk, client } = await this.#sdk();
    try {
      return await fn(sdk, client);
    } catch (err) {
      throw this.#error(err, verb, h);
    }
  }

  #error(err: unknown, verb: string, handle?: Handle): CofferError {
    return s3Error(err, { location: this.location, server: this.#server, bucket: this.#opts.bucket, verb, ...(handle ? { handle } : {}) });
  }

  #sdk(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.#client ??= Promise.resolve().then(() => {
      const sdk = requireHere("@aws-sdk/client-s3") as Sdk;
      return { sdk, client: this.#makeClient(sdk) };
    });
    return this.#client;
  }

  #makeClient(sdk: Sdk): S3Client {
    const o = this.#opts;
    // The SDK warns once per process, on stderr, that releases from 2027 will need Node 22;
    // coffer supports Node 20 with the SDK its lockfile pins, so the warning would be noise.
    process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
    // LimitBackend keeps requests to `connections`; the spare sockets serve a caller that
    // wraps the driver with more, instead of queueing (and the SDK warning about the queue).
    const agent = { keepAlive: true, maxSockets: Math.max(this.properties.connections * 2, 32) };
    return new sdk.S3Client({
      ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : { followRegionRedirects: true }),
      ...(o.region ? { region: o.region } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      forcePathStyle: o.pathStyle ?? o.endpoint !== undefined,
      maxAttempts: 1,
      // No "Expect: 100-continue" on uploads: the SDK sends each one (every pack is above its
      // 2 MB threshold) on a new connection without keep-alive and waits for the server's
      // go-ahead first, a connection (and TLS handshake) and a round trip per pack.
      expectContinueHeader: false,
      // Checksums only where S3 demands them: servers other than AWS store aws-chunked uploads
      // with trailing checksums corrupted. `save` sends a digest of its own instead.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { connectionTimeout: o.connectTimeoutMs ?? 10_000, socketTimeout: o.idleTimeoutMs ?? 60_000, httpAgent: agent, httpsAgent: agent },
    });
  }
}

/** Sets S3's payload hash header to a SHA-256 the caller knows, or UNSIGNED-PAYLOAD; the signer then uses it as is. */
function payloadHash(sha256: string) {
  return <A, R>(next: (args: A) => Promise<R>) =>
    (args: A): Promise<R> => {
      const req = (args as { request?: { headers?: Record<string, string> } }).request;
      if (req?.headers) req.headers["x-amz-content-sha256"] = sha256;
      return next(args);
    };
}

/**
 * A response body read into one buffer of its announced length (the SDK's collector keeps every
 * chunk until the end, then copies them), which owns its memory (never a slice of Node's shared
 * pool, so a caller may transfer it to a worker). Without a length, the chunks are joined.
 */
async function readBody(body: AsyncIterable<Uint8Array>, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const c of body) chunks.push(c);
    const out = Buffer.allocUnsafeSlow(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for await (const c of body) {
    if (at + c.length > length) throw new Error(`more than the ${length} bytes announced arrived`);
    out.set(c, at);
    at += c.length;
  }
  return at === length ? out : out.subarray(0, at);
}
