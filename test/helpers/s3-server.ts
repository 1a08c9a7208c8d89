// A real S3 server for tests: Ceph's RADOS Gateway on loopback, started with the shared scripts
// (../shared/ceph/, see its README), or the one CI started (COFFER_TEST_S3_* in the
// environment). Where Ceph is not installed, outside CI, s3rver (a fake S3 in Node) stands in,
// and says so. Also: extra gateways of the same Ceph cluster that a test may kill.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface S3Server {
  kind: "ceph" | "s3rver";
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and no EC2 metadata look-ups. */
  env: Record<string, string>;
  /** Ceph only: the cluster's config, for `startGateway`. */
  cephConf?: string;
  /** One line for the test output: what server this is. */
  note: string;
  stop(): Promise<void>;
}

const REPO_ROOT = repoRoot(fileURLToPath(new URL(".", import.meta.url)));
/** shared/ sits beside the clone, in CI as on a developer's machine. */
const CEPH_DIR = process.env["COFFER_TEST_CEPH_SCRIPTS"] ?? join(REPO_ROOT, "..", "shared", "ceph");

/**
 * The S3 server of this test run. CI (CI=true) must have Ceph: there is no fallback there, so a
 * broken install fails the run instead of testing against a fake.
 */
export async function startS3Server(): Promise<S3Server> {
  const external = fromEnv();
  if (external) return external;
  const why = cephMissing();
  if (why === undefined) return startCeph();
  if (process.env["CI"] === "true") throw new Error(`CI must test against Ceph RGW, but ${why}`);
  return startS3rver(why);
}

/** The server .ci/run started, if any: COFFER_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, COFFER_TEST_CEPH_CONF. */
function fromEnv(): S3Server | undefined {
  const endpoint = process.env["COFFER_TEST_S3_ENDPOINT"];
  const access = process.env["COFFER_TEST_S3_ACCESS_KEY"];
  const secret = process.env["COFFER_TEST_S3_SECRET_KEY"];
  if (!endpoint || !access || !secret) return undefined;
  const conf = process.env["COFFER_TEST_CEPH_CONF"];
  return { kind: "ceph", endpoint, env: awsEnv(access, secret), ...(conf ? { cephConf: conf } : {}), note: `S3 server: Ceph RGW at ${endpoint} (started by the CI script)`, stop: async () => {} };
}

function cephMissing(): string | undefined {
  if (!existsSync(join(CEPH_DIR, "start-ceph-rgw.sh"))) return `the scripts are not at ${CEPH_DIR}`;
  for (const bin of ["radosgw", "ceph-mon", "ceph-osd", "radosgw-admin", "uuidgen"]) {
    if (!onPath(bin)) return `${bin} is not installed (see ${join(CEPH_DIR, "README.md")})`;
  }
  return undefined;
}

async function startCeph(): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), "coffer-ceph-"));
  const [rgwPort, monPort] = [await freePort(), await freePort()];
  const access = `TEST${randomBytes(6).toString("hex")}`;
  const secret = randomBytes(20).toString("hex");
  const t0 = Date.now();
  const { code, out, err } = await run(join(CEPH_DIR, "start-ceph-rgw.sh"), [dir], {
    RGW_PORT: String(rgwPort),
    MON_PORT: String(monPort),
    S3_ACCESS_KEY: access,
    S3_SECRET_KEY: secret,
    MEMSTORE_MB: "1536",
  });
  const stop = async (): Promise<void> => {
    await run(join(CEPH_DIR, "stop-ceph-rgw.sh"), [dir, "--purge"], {});
    await rm(dir, { recursive: true, force: true });
  };
  if (code !== 0) {
    await stop();
    throw new Error(`start-ceph-rgw.sh failed (exit ${code}):\n${err}\n${out}`);
  }
  const env = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const endpoint = env["S3_ENDPOINT"] ?? `http://127.0.0.1:${rgwPort}`;
  return { kind: "ceph", endpoint, env: awsEnv(access, secret), cephConf: join(dir, "ceph.conf"), note: `S3 server: Ceph RGW at ${endpoint} (started in ${((Date.now() - t0) / 1000).toFixed(1)} s)`, stop };
}

async function startS3rver(why: string): Promise<S3Server> {
  let S3rver: new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  try {
    // A devDependency; typed loosely so that the build does not need its types.
    S3rver = ((await import("s3rver" as string)) as { default: typeof S3rver }).default;
  } catch {
    throw new Error(`no S3 server for the tests: Ceph RGW cannot run here (${why}) and s3rver is not installed`);
  }
  const dir = mkdtempSync(join(tmpdir(), "coffer-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir, allowMismatchedSignatures: false, resetOnClose: true });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    kind: "s3rver",
    endpoint,
    // s3rver knows one fixed key pair.
    env: awsEnv("S3RVER", "S3RVER"),
    note: `S3 server: s3rver at ${endpoint}, A FAKE S3, NOT Ceph: Ceph RGW cannot run here (${why}); CI runs these tests against Ceph`,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A gateway of its own on the cluster of `server`: the same buckets, a port a test may cut. */
export interface Gateway {
  endpoint: string;
  port: number;
  /** SIGKILL, as a crash or a power cut would stop it. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

export async function startGateway(server: S3Server): Promise<Gateway> {
  const conf = server.cephConf;
  if (!conf) throw new Error("extra gateways need Ceph");
  const port = await freePort();
  const name = `client.rgw.t${port}`;
  const dir = join(tmpdir(), `coffer-rgw-${port}`);
  let child: ChildProcess | undefined;
  const gw: Gateway = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async start() {
      await mkdir(dir, { recursive: true });
      const args = ["-c", conf, "-n", name, "-f", "--rgw_frontends", `beast endpoint=127.0.0.1:${port}`, "--rgw_data", dir, "--log_file", join(dir, "log"), "--admin_socket", join(dir, "asok"), "--pid_file", join(dir, "pid")];
      const c = spawn("radosgw", args, { stdio: "ignore", env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" } });
      child = c;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (c.exitCode !== null) throw new Error(`radosgw exited with ${c.exitCode}; see ${join(dir, "log")}`);
        if (await answers(gw.endpoint)) return;
        if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${gw.endpoint} within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const closed = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await closed;
    },
  };
  await gw.start();
  return gw;
}

/** Empties a bucket and removes it (test cleanup; errors ignored). */
/**
 * Empties and removes a bucket, best effort. `deadline` (a Date.now() value) stops it early: a
 * bucket of hundreds of small packs takes minutes to empty one key at a time on a loaded
 * machine, and the servers tests use are thrown away after the run anyway.
 */
export async function removeBucket(server: S3Server, bucket: string, deadline = Number.POSITIVE_INFINITY): Promise<void> {
  const { S3Client, ListObjectsV2Command, DeleteObjectCommand, DeleteBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: server.env["AWS_ACCESS_KEY_ID"] ?? "", secretAccessKey: server.env["AWS_SECRET_ACCESS_KEY"] ?? "" },
  });
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
      const keys = (page.Contents ?? []).map((o) => o.Key ?? "");
      for (let i = 0; i < keys.length; i += 16) {
        if (Date.now() > deadline) return;
        await Promise.all(keys.slice(i, i + 16).map((Key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch {
    // Best effort: the server is thrown away after the run.
  } finally {
    client.destroy();
  }
}

export function bucketName(tag: string): string {
  return `${tag}-${randomBytes(5).toString("hex")}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function awsEnv(access: string, secret: string): Record<string, string> {
  // No EC2 metadata look-ups: the SDK's credential chain must never leave loopback.
  return { AWS_ACCESS_KEY_ID: access, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

function onPath(bin: string): boolean {
  return (process.env["PATH"] ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, bin)));
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn("bash", [cmd, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** The nearest directory above `dir` with a package.json (the build may sit in dist/ or .build/x/). */
function repoRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return process.cwd();
  }
}
