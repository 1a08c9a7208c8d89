import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { S3Backend, type S3Options } from "../../src/backend/s3.js";
import { isPermanentS3Error, s3Error } from "../../src/backend/s3-error.js";
import { formatS3Location, parseS3Url, s3OptionsFromEnv } from "../../src/backend/s3-url.js";
import { type CofferError, isCofferError } from "../../src/core/errors.js";
import { Repository } from "../../src/repository/repository.js";
import { bucketName, removeBucket, type S3Server, startS3Server } from "../helpers/s3-server.js";
import { handle, listAll, rejection, runBackendSuite } from "./suite.js";

let server: S3Server;

before(
  async () => {
    server = await startS3Server();
    // The SDK's credential chain reads the process environment, as it does for a user.
    Object.assign(process.env, server.env);
  },
  { timeout: 180_000 },
);
after(() => server?.stop(), { timeout: 60_000 });

const fastRetry = { attempts: 3, initialDelayMs: 20, maxDelayMs: 50 };

/** A bare driver for `url` with explicit options (credentials, timeouts) on top of the URL's. */
function s3(url: string, extra: Partial<S3Options> = {}): S3Backend {
  const loc = parseS3Url(url);
  return new S3Backend({ ...loc, ...s3OptionsFromEnv({}, loc), ...extra });
}

async function expectError(p: Promise<unknown>): Promise<CofferError> {
  const err = await rejection(p);
  assert.ok(isCofferError(err), `a CofferError, not ${String(err)}`);
  return err;
}

describe("S3 test server", () => {
  it("is named in the output", (t) => {
    t.diagnostic(server.note);
    if (server.kind !== "ceph") console.log(server.note);
  });
});

runBackendSuite("s3 (fresh bucket, under a prefix, wrapped as openBackend + wrapBackend)", async () => {
  const bucket = bucketName("suite");
  return {
    backend: wrapBackend(openBackend(`s3:${server.endpoint}/${bucket}/some/prefix`), { retry: fastRetry }),
    cleanup: () => removeBucket(server, bucket),
  };
});

describe("S3 repository URLs", () => {
  it("parses the server, AWS and restic forms", () => {
    assert.deepEqual(parseS3Url("s3:https://s3.example.com/bucket/a/b"), { endpoint: "https://s3.example.com", bucket: "bucket", prefix: "a/b" });
    assert.deepEqual(parseS3Url("s3:http://127.0.0.1:7480/bucket/"), { endpoint: "http://127.0.0.1:7480", bucket: "bucket", prefix: "" });
    assert.deepEqual(parseS3Url("s3:https://minio:9000//bucket//repo/"), { endpoint: "https://minio:9000", bucket: "bucket", prefix: "repo" });
    assert.deepEqual(parseS3Url("s3:my-bucket/backups/host1"), { bucket: "my-bucket", prefix: "backups/host1" });
    assert.deepEqual(parseS3Url("s3:my.bucket"), { bucket: "my.bucket", prefix: "" });
    assert.deepEqual(parseS3Url("s3:s3.amazonaws.com/bucket/p"), { endpoint: "https://s3.amazonaws.com", bucket: "bucket", prefix: "p" });
    assert.deepEqual(parseS3Url("s3:s3.eu-west-1.amazonaws.com/bucket"), { endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "bucket", prefix: "", region: "eu-west-1" });
  });

  it("prints locations without credentials or trailing slashes", () => {
    assert.equal(formatS3Location(parseS3Url("s3:https://host:9000/b/p/q/")), "s3:https://host:9000/b/p/q");
    assert.equal(formatS3Location(parseS3Url("s3:b")), "s3:b");
    assert.equal(openBackend("s3:http://127.0.0.1:1/bucket/x").location, "s3:http://127.0.0.1:1/bucket/x");
  });

  it("refuses what is not an S3 location with USAGE, never repeating a password", () => {
    for (const url of ["s3:", "s3:https://host", "s3:https://host/", "s3:-x", "s3:bad bucket/p", "s3:https://host/b?x=1", "s3:b/../c", "s3:https://[::1/b"]) {
      assert.throws(() => openBackend(url), (err: unknown) => isCofferError(err, "USAGE") && /s3:https:\/\/HOST\[:PORT\]\/BUCKET/.test(err.message), url);
    }
    assert.throws(
      () => openBackend("s3:https://key:secret123@host/bucket"),
      (err: unknown) => isCofferError(err, "USAGE") && /AWS_ACCESS_KEY_ID/.test(err.message) && !err.message.includes("secret123"),
    );
  });

  it("declares the properties of a remote store", () => {
    assert.deepEqual(openBackend("s3:http://127.0.0.1:1/bucket").properties, { kind: "s3", connections: 5, atomicReplace: true, remote: true });
    assert.equal(wrapBackend(openBackend("s3:bucket/p", { env: { AWS_REGION: "eu-west-1" } })).properties.connections, 5);
  });

  it("reads its settings from the environment, and refuses bad ones", () => {
    const loc = parseS3Url("s3:https://h/b");
    assert.deepEqual(s3OptionsFromEnv({}, loc), { region: "us-east-1" });
    assert.deepEqual(s3OptionsFromEnv({ COFFER_S3_PATH_STYLE: "0", COFFER_S3_RAW_GET: "off", COFFER_S3_CONNECTIONS: "12", COFFER_S3_TIMEOUT: "2.5", AWS_REGION: "auto" }, loc), {
      pathStyle: false,
      rawGet: false,
      connections: 12,
      idleTimeoutMs: 2500,
      region: "auto",
    });
    assert.deepEqual(s3OptionsFromEnv({}, parseS3Url("s3:b")), {}, "AWS: the SDK finds the region");
    assert.equal(openBackend("s3:https://h/b", { env: { COFFER_S3_CONNECTIONS: "3" } }).properties.connections, 3);
    for (const env of [{ COFFER_S3_PATH_STYLE: "maybe" }, { COFFER_S3_RAW_GET: "2" }, { COFFER_S3_CONNECTIONS: "0" }, { COFFER_S3_TIMEOUT: "-1" }]) {
      assert.throws(() => s3OptionsFromEnv(env, loc), (err: unknown) => isCofferError(err, "USAGE") && err.message.includes(Object.keys(env)[0] as string), JSON.stringify(env));
    }
  });
});

describe("S3 error messages", () => {
  const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
  const ctx = { location: "s3:my-bucket/repo", server: "AWS S3", bucket: "my-bucket", verb: "loading" };

  it("calls throttling, clock skew and S3's own timeouts transient, other refusals permanent", () => {
    for (const [name, status] of [["SlowDown", 503], ["RequestTimeTooSkewed", 403], ["RequestTimeout", 400], ["OperationAborted", 409], ["InternalError", 500], ["TooManyRequests", 429], ["BadDigest", 400], ["XAmzContentSHA256Mismatch", 400]] as const) {
      const err = s3Error(sdkError(name, status), ctx);
      assert.ok(!isPermanentS3Error(err), name);
    }
    for (const [name, status] of [["AccessDenied", 403], ["InvalidArgument", 400], ["MethodNotAllowed", 405], ["InvalidBucketName", 400], ["BucketAlreadyExists", 409]] as const) {
      assert.ok(isPermanentS3Error(s3Error(sdkError(name, status), ctx)), name);
    }
  });

  it("words AWS and missing credentials or region as a person would", () => {
    assert.equal(
      s3Error(sdkError("AccessDenied", 403), { ...ctx, handle: { type: "config", name: "" } }).message,
      'AWS S3 denied access (AccessDenied) while loading config in s3:my-bucket/repo; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that they may use the bucket "my-bucket".',
    );
    const creds = s3Error(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }), ctx);
    assert.match(creds.message, /^No S3 credentials were found for s3:my-bucket\/repo; set AWS_ACCESS_KEY_ID/);
    assert.ok(isPermanentS3Error(creds));
    assert.match(s3Error(new Error("Region is missing"), ctx).message, /^No AWS region is set for s3:my-bucket\/repo; set AWS_REGION/);
    const dns = s3Error(Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND" }), { ...ctx, server: "https://nas.invalid" });
    assert.match(dns.message, /^Cannot reach the S3 server https:\/\/nas\.invalid \(the host name does not resolve\) while loading s3:my-bucket\/repo;/);
  });
});

describe("S3 backend against the server", () => {
  it("keeps repositories under different prefixes apart, and lists only repository files", async () => {
    const bucket = bucketName("apart");
    const a = s3(`s3:${server.endpoint}/${bucket}/a`);
    const b = s3(`s3:${server.endpoint}/${bucket}/b`);
    const root = s3(`s3:${server.endpoint}/${bucket}`);
    try {
      await a.create();
      await b.create(); // the bucket exists now: create only checks it
      const ha = handle("data");
      await a.save(ha, Buffer.from("in a"));
      await b.save(handle("snapshot"), Buffer.from("in b"));
      // Keys that are not repository files: another tool's, a wrong subdirectory, a nested key.
      await root.save({ type: "config", name: "" }, Buffer.from("root config"));
      const raw = await rawClient();
      for (const key of ["README", "a/data/zz/" + "ab".repeat(32), "a/data/" + "cd".repeat(32), "a/snapshots/sub/" + "ef".repeat(32), "a/snapshots/.tmp-1"]) {
        await raw.put(bucket, key);
      }
      raw.close();
      assert.deepEqual(await listAll(a, "data"), [{ name: ha.name, size: 4 }]);
      assert.deepEqual(await listAll(a, "snapshot"), []);
      assert.equal((await listAll(b, "snapshot")).length, 1);
      assert.deepEqual(await listAll(a, "config"), []);
      assert.deepEqual(await listAll(root, "config"), [{ name: "", size: 11 }]);
      assert.deepEqual(await listAll(root, "data"), []);
      const err = await expectError(root.create());
      assert.equal(err.code, "REPO_EXISTS");
    } finally {
      await Promise.all([a.close(), b.close(), root.close()]);
      await removeBucket(server, bucket);
    }
  });

  it("sends a known SHA-256 as the payload hash, which the server checks the bytes against", async (t) => {
    if (server.kind !== "ceph") return t.skip("s3rver does not check payload hashes");
    const bucket = bucketName("sha");
    const b = s3(`s3:${server.endpoint}/${bucket}`);
    try {
      await b.create();
      const bytes = randomBytes(3 << 20); // above the SDK's 2 MB threshold for "Expect: 100-continue"
      const h = { type: "data" as const, name: createHash("sha256").update(bytes).digest("hex") };
      await b.save(h, bytes, { sha256: h.name });
      assert.ok((await b.load(h)).equals(bytes));
      const other = handle("data");
      const err = await expectError(b.save(other, bytes, { sha256: createHash("sha256").update("other bytes").digest("hex") }));
      assert.equal(err.data["s3"], "XAmzContentSHA256Mismatch");
      assert.match(err.message, /received other bytes than were sent \(XAmzContentSHA256Mismatch\) while saving data\//);
      assert.ok(!b.isPermanent(err), "damage on the way is worth a retry");
      assert.equal((await expectError(b.stat(other))).code, "NOT_FOUND");
      assert.equal((await expectError(b.save(other, bytes, { sha256: "ab" }))).code, "INVALID");
    } finally {
      await b.close();
      await removeBucket(server, bucket);
    }
  });

  it("sends a caller's MD5 as Content-MD5 with an unsigned payload, which the server checks the bytes against", async (t) => {
    if (server.kind !== "ceph") return t.skip("s3rver does not check Content-MD5");
    const bucket = bucketName("md5");
    const b = s3(`s3:${server.endpoint}/${bucket}`);
    try {
      await b.create();
      const bytes = randomBytes(3 << 20);
      const md5 = (d: Uint8Array | string): string => createHash("md5").update(d).digest("base64");
      const h = handle("data");
      await b.save(h, bytes, { md5: md5(bytes) });
      assert.ok((await b.load(h)).equals(bytes));
      const other = handle("data");
      const err = await expectError(b.save(other, bytes, { md5: md5("other bytes") }));
      assert.equal(err.data["s3"], "BadDigest");
      assert.ok(!b.isPermanent(err), "damage on the way is worth a retry");
      assert.equal((await expectError(b.stat(other))).code, "NOT_FOUND");
      assert.equal((await expectError(b.save(other, bytes, { md5: "ab" }))).code, "INVALID");
    } finally {
      await b.close();
      await removeBucket(server, bucket);
    }
  });

  it("lists past one page of results", async (t) => {
    if (server.kind !== "ceph") return t.skip("s3rver pages listings wrongly");
    const bucket = bucketName("pages");
    const b = wrapBackend(s3(`s3:${server.endpoint}/${bucket}/p`, { listPageSize: 7 }));
    try {
      await b.create();
      const want = await Promise.all(
        [...Array.from({ length: 30 }, () => handle("index")), ...Array.from({ length: 30 }, () => handle("data"))].map(async (h) => {
          await b.save(h, Buffer.from(h.name));
          return h;
        }),
      );
      for (const type of ["index", "data"] as const) {
        assert.deepEqual((await listAll(b, type)).map((f) => f.name), want.filter((h) => h.type === type).map((h) => h.name).sort(), type);
      }
    } finally {
      await b.close();
      await removeBucket(server, bucket);
    }
  });

  it("reports a missing bucket as REPO_MISSING, naming the bucket", async () => {
    const b = wrapBackend(openBackend(`s3:${server.endpoint}/no-such-bucket-${Date.now()}/repo`), { retry: fastRetry });
    try {
      const err = await expectError(Repository.open(b, { password: "x" }));
      assert.equal(err.code, "REPO_MISSING");
      assert.match(err.message, /bucket "no-such-bucket-\d+" does not exist on http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(b.isPermanent(err));
      assert.equal((await expectError(listAll(b, "snapshot"))).code, "REPO_MISSING");
    } finally {
      await b.close();
    }
  });

  it("reports a bucket that holds no repository as REPO_MISSING", async () => {
    const bucket = bucketName("empty");
    const b = wrapBackend(openBackend(`s3:${server.endpoint}/${bucket}/repo`), { retry: fastRetry });
    try {
      await b.create();
      const err = await expectError(Repository.open(b, { password: "x" }));
      assert.equal(err.code, "REPO_MISSING");
      assert.match(err.message, /There is no repository at s3:http:.*\/repo; create one with "coffer init"/);
    } finally {
      await b.close();
      await removeBucket(server, bucket);
    }
  });

  it("reports wrong credentials in one sentence, as permanent errors (no retries)", async (t) => {
    if (server.kind !== "ceph") return t.skip("s3rver does not check credentials");
    const bucket = bucketName("creds");
    const good = s3(`s3:${server.endpoint}/${bucket}`);
    await good.create();
    const cases: [string, S3Options["credentials"], RegExp][] = [
      ["a wrong secret key", { accessKeyId: server.env["AWS_ACCESS_KEY_ID"] ?? "", secretAccessKey: "wrong" }, /SignatureDoesNotMatch.*secret access key is wrong/],
      ["an unknown access key", { accessKeyId: "NOSUCHKEY123", secretAccessKey: "wrong" }, /does not know the access key in use \(InvalidAccessKeyId\)/],
    ];
    try {
      for (const [what, credentials, message] of cases) {
        let retries = 0;
        const b = wrapBackend(s3(`s3:${server.endpoint}/${bucket}`, credentials ? { credentials } : {}), { retry: { ...fastRetry, onRetry: () => retries++ } });
        for (const op of [() => b.load({ type: "config", name: "" }), () => b.save(handle("lock"), Buffer.from("x"))]) {
          const err = await expectError(op());
          assert.equal(err.code, "BACKEND", what);
          assert.match(err.message, message, what);
          assert.match(err.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/, what);
          assert.ok(b.isPermanent(err) && !b.isNotFound(err), what);
        }
        // HEAD answers carry no error code: a 403 still says "access denied" and what to check.
        const head = await expectError(b.stat({ type: "config", name: "" }));
        assert.match(head.message, /denied access \((HTTP 403|[A-Za-z]+)\).*AWS_ACCESS_KEY_ID/, what);
        assert.equal(retries, 0, `${what}: not retried`);
        await b.close();
      }
    } finally {
      await good.close();
      await removeBucket(server, bucket);
    }
  });
});

describe("S3 backend's own GETs over plain HTTP", () => {
  // A stand-in server that checks only what a GET carries: a Signature Version 4 with the
  // given key, the path and the range; the bodies and errors are what S3 sends.
  async function server(): Promise<{ http: Server; requests: { url: string; range?: string; auth: string; ua?: string }[] }> {
    const requests: { url: string; range?: string; auth: string; ua?: string }[] = [];
    const object = Buffer.from("0123456789abcdefghij");
    const http = await listen(
      createHttpServer((req, res) => {
        requests.push({ url: req.url ?? "", auth: String(req.headers.authorization), ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers["user-agent"] ? { ua: req.headers["user-agent"] } : {}) });
        const error = (status: number, code: string): void => {
          const xml = `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code} &amp; more</Message></Error>`;
          res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) }).end(xml);
        };
        if (req.url?.startsWith("/gone/")) return error(404, "NoSuchBucket");
        if (!/\/keys\/present(\?x-id=GetObject)?$/.test(req.url ?? "")) return error(404, "NoSuchKey");
        const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
        if (!m) return void res.writeHead(200, { "content-length": object.length }).end(object);
        const from = Number(m[1]);
        if (from >= object.length) return error(416, "InvalidRange");
        const to = Math.min(m[2] ? Number(m[2]) : Infinity, object.length - 1);
        res.writeHead(206, { "content-length": to - from + 1, "content-range": `bytes ${from}-${to}/${object.length}` }).end(object.subarray(from, to + 1));
      }),
    );
    return { http, requests };
  }
  const credentials = { accessKeyId: "AKID", secretAccessKey: "secret" };
  const present = { type: "key" as const, name: "present" };

  it("reads whole files and ranges itself, signed, one request each", async () => {
    const { http, requests } = await server();
    const b = s3(`s3:http://127.0.0.1:${port(http)}/bucket/my repo`, { credentials, region: "eu-central-1" });
    try {
      assert.equal((await b.load(present)).toString(), "0123456789abcdefghij");
      assert.equal((await b.load(present, { offset: 5, length: 4 })).toString(), "5678");
      assert.equal((await b.load(present, { offset: 18 })).toString(), "ij");
      assert.equal(requests.length, 3);
      assert.deepEqual(requests.map((r) => [r.url, r.range]), [["/bucket/my%20repo/keys/present", undefined], ["/bucket/my%20repo/keys/present", "bytes=5-8"], ["/bucket/my%20repo/keys/present", "bytes=18-"]]);
      for (const r of requests) {
        assert.match(r.auth, /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-central-1\/s3\/aws4_request, SignedHeaders=host;(range;)?x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
        assert.equal(r.ua, undefined, "not the SDK's request");
      }
    } finally {
      await b.close();
      http.close();
    }
  });

  it("reports S3's errors as through the SDK, without asking twice", async () => {
    const { http, requests } = await server();
    const b = s3(`s3:http://127.0.0.1:${port(http)}/bucket`, { credentials });
    const gone = s3(`s3:http://127.0.0.1:${port(http)}/gone`, { credentials });
    try {
      const missing = await expectError(b.load({ type: "key", name: "absent" }));
      assert.equal(missing.code, "NOT_FOUND");
      assert.ok(b.isNotFound(missing));
      assert.equal((await expectError(gone.load(present))).code, "REPO_MISSING");
      assert.equal(requests.length, 2);
      const past = await expectError(b.load(present, { offset: 25, length: 3 }));
      assert.equal(past.code, "CORRUPT", "a range past the end");
      assert.equal(requests.length, 4, "the GET, then a HEAD for the size");
      assert.equal((await expectError(b.load(present, { offset: 15, length: 10 }))).code, "CORRUPT", "a range reaching past the end");
    } finally {
      await b.close();
      await gone.close();
      http.close();
    }
  });

  it("asks through the SDK when the server finds the clock off, and signs with its offset after", async () => {
    const seen: { sdk: boolean; date: string }[] = [];
    const skew = 20 * 60_000; // the server's clock is 20 minutes ahead
    const http = await listen(
      createHttpServer((req, res) => {
        const sdk = /x-id=GetObject/.test(req.url ?? "");
        const date = String(req.headers["x-amz-date"]);
        seen.push({ sdk, date });
        const iso = date.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z");
        if (Math.abs(Date.parse(iso) - (Date.now() + skew)) > 5 * 60_000) {
          const xml = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>";
          return void res.writeHead(403, { "content-length": Buffer.byteLength(xml), date: new Date(Date.now() + skew).toUTCString() }).end(xml);
        }
        res.writeHead(200, { "content-length": 2 }).end("ok");
      }),
    );
    const b = s3(`s3:http://127.0.0.1:${port(http)}/bucket`, { credentials });
    const r = wrapBackend(b, { retry: fastRetry });
    try {
      assert.equal((await r.load(present)).toString(), "ok");
      assert.equal((await r.load(present)).toString(), "ok");
      assert.equal(seen[0]?.sdk, false, "first its own GET");
      assert.ok(seen.some((x) => x.sdk), "then the SDK's");
      assert.equal(seen.at(-1)?.sdk, false, "and its own again, with the SDK's clock offset");
    } finally {
      await r.close();
      http.close();
    }
  });

  it("leaves every request to the SDK with COFFER_S3_RAW_GET=0", async () => {
    const { http, requests } = await server();
    const url = `s3:http://127.0.0.1:${port(http)}/bucket`;
    const b = s3(url, { credentials, ...s3OptionsFromEnv({ COFFER_S3_RAW_GET: "0" }, parseS3Url(url)) });
    try {
      assert.equal((await b.load(present, { offset: 5, length: 4 })).toString(), "5678");
      assert.match(requests[0]?.ua ?? "", /aws-sdk-js/);
    } finally {
      await b.close();
      http.close();
    }
  });
});

describe("S3 backend against broken servers", () => {
  it("calls an unreachable server transient, and says so after the retries", async () => {
    const port = await closedPort();
    let retries = 0;
    const b = wrapBackend(s3(`s3:http://127.0.0.1:${port}/bucket/repo`), { retry: { ...fastRetry, onRetry: () => retries++ } });
    const err = await expectError(b.load({ type: "config", name: "" }));
    assert.equal(err.code, "BACKEND");
    assert.equal(
      err.message,
      `Cannot reach the S3 server http://127.0.0.1:${port} (ECONNREFUSED) while loading config in s3:http://127.0.0.1:${port}/bucket/repo; check the URL and the network, and that the server is running.`,
    );
    assert.equal(retries, 2);
    assert.ok(!b.isPermanent(err));
    await b.close();
  });

  it("retries a server answering 500, then reports it", async () => {
    let requests = 0;
    const http = await listen(
      createHttpServer((req, res) => {
        requests++;
        req.resume();
        res.writeHead(500, { "content-type": "application/xml" }).end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>');
      }),
    );
    const url = `s3:http://127.0.0.1:${port(http)}/bucket/repo`;
    const b = wrapBackend(s3(url), { retry: fastRetry });
    try {
      for (const op of [() => b.load(handle("index")), () => b.save(handle("index"), Buffer.from("x")), () => b.stat(handle("index")), () => listAll(b, "index")]) {
        const before = requests;
        const err = await expectError(op());
        assert.equal(err.code, "BACKEND");
        assert.match(err.message, /^The S3 server http:\/\/127\.0\.0\.1:\d+ failed \(HTTP 500( InternalError)?\) while \w+.*; it may be overloaded or down, try again later\.$/);
        assert.equal(requests - before, 3, "tried three times");
      }
    } finally {
      await b.close();
      http.close();
    }
  });

  it("times out a server that accepts and never answers", async () => {
    const sockets: Socket[] = [];
    const tcp = await listen(createTcpServer((s) => void sockets.push(s)));
    const b = s3(`s3:http://127.0.0.1:${port(tcp)}/bucket`, { idleTimeoutMs: 300 });
    try {
      const t0 = Date.now();
      const err = await expectError(b.load({ type: "config", name: "" }));
      assert.ok(Date.now() - t0 < 5000);
      assert.match(err.message, /Cannot reach the S3 server .* \(it did not answer in time\)/);
      assert.ok(!b.isPermanent(err));
    } finally {
      await b.close();
      for (const s of sockets) s.destroy();
      tcp.close();
    }
  });

  it("names a connection reset in the middle of a request by its code, not as a timeout", async () => {
    // What a server killed while a request is on its way looks like (the SDK calls it a TimeoutError).
    const tcp = await listen(createTcpServer((s) => s.once("data", () => s.resetAndDestroy())));
    const b = s3(`s3:http://127.0.0.1:${port(tcp)}/bucket`);
    try {
      const err = await expectError(b.load({ type: "config", name: "" }));
      assert.match(err.message, /^Cannot reach the S3 server http:\/\/127\.0\.0\.1:\d+ \(ECONNRESET\) while loading config in /);
      assert.ok(!b.isPermanent(err));
    } finally {
      await b.close();
      tcp.close();
    }
  });

  it("reports https to a plain HTTP port as a permanent TLS error", async () => {
    const http = await listen(createHttpServer((_req, res) => res.end()));
    const b = wrapBackend(s3(`s3:https://127.0.0.1:${port(http)}/bucket`), { retry: fastRetry });
    try {
      const err = await expectError(b.load({ type: "config", name: "" }));
      assert.match(err.message, /^The TLS connection to https:\/\/127\.0\.0\.1:\d+ failed \(the server does not speak TLS on that port\) while loading config in .*; check that the URL's scheme \(https or http\) matches the server/);
      assert.ok(b.isPermanent(err));
    } finally {
      await b.close();
      http.close();
    }
  });

  it("reports an untrusted certificate as a permanent TLS error", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "coffer-tls-"));
    try {
      try {
        execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
      } catch {
        t.skip("openssl is not installed");
        return;
      }
      const https = await listen(createHttpsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (_req, res) => res.end()));
      const b = wrapBackend(s3(`s3:https://127.0.0.1:${port(https)}/bucket`), { retry: fastRetry });
      try {
        const err = await expectError(b.load({ type: "config", name: "" }));
        assert.match(err.message, /^The TLS connection to https:\/\/127\.0\.0\.1:\d+ failed \(DEPTH_ZERO_SELF_SIGNED_CERT: self[- ]signed certificate\).*NODE_EXTRA_CA_CERTS/);
        assert.ok(b.isPermanent(err));
      } finally {
        await b.close();
        https.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function listen<T extends Server | ReturnType<typeof createTcpServer>>(s: T): Promise<T> {
  await new Promise<void>((res) => s.listen(0, "127.0.0.1", res));
  return s;
}

function port(s: { address(): unknown }): number {
  return (s.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const s = await listen(createTcpServer());
  const p = port(s);
  await new Promise((r) => s.close(r));
  return p;
}

/** Puts objects straight into a bucket, past the driver. */
async function rawClient(): Promise<{ put(bucket: string, key: string): Promise<void>; close(): void }> {
  const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ endpoint: server.endpoint, forcePathStyle: true, region: "us-east-1", requestChecksumCalculation: "WHEN_REQUIRED" });
  return {
    put: async (bucket, key) => void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "foreign" }))),
    close: () => client.destroy(),
  };
}

