import { CofferError } from "../core/errors.js";

/** Where an S3 repository lives. */
export interface S3Location {
  /** Base URL of an S3-compatible server (`https://host[:port]`); undefined for AWS. */
  endpoint?: string;
  bucket: string;
  /** Key prefix without leading or trailing "/"; "" for the bucket's root. */
  prefix: string;
  /** Region named by an AWS host (`s3.eu-west-1.amazonaws.com`), if any. */
  region?: string;
}

/** Settings a person can give in the environment (docs/backends.md lists them). */
export interface S3EnvOptions {
  pathStyle?: boolean;
  region?: string;
  connections?: number;
  idleTimeoutMs?: number;
  rawGet?: boolean;
}

// Loose on purpose: S3 allows 3–63 of [a-z0-9.-], but Ceph and MinIO can be configured to accept
// more; the server has the last word, this only catches what cannot be a bucket at all.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const AWS_HOST = /^s3[.-](?:([a-z0-9-]+)\.)?amazonaws\.com(?:\.cn)?$/;

const FORMS = "s3:https://HOST[:PORT]/BUCKET[/PREFIX] or s3:BUCKET[/PREFIX] (AWS)";

/**
 * Parses `s3:https://HOST[:PORT]/BUCKET[/PREFIX]` (any S3-compatible server; `http://` for a
 * server on this machine), `s3:BUCKET[/PREFIX]` (AWS, bucket found through the SDK's region
 * chain) and restic's `s3:s3.amazonaws.com/BUCKET[/PREFIX]`. Empty path segments are dropped.
 */
export function parseS3Url(url: string): S3Location {
  if (!url.startsWith("s3:")) throw usage(url, "it does not start with s3:");
  const rest = url.slice(3);
  if (/^https?:\/\//i.test(rest)) {
    let u: URL;
    try {
      u = new URL(rest);
    } catch {
      throw usage(url, "the server address is not a valid URL");
    }
    if (u.username || u.password) {
      throw new CofferError("USAGE", `Credentials do not belong in the repository URL ${JSON.stringify(redact(url))}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead.`, { url: redact(url) });
    }
    if (u.search || u.hash) throw usage(url, "it has a query or fragment");
    const [bucket, ...prefix] = segments(decodeURIComponent(u.pathname));
    return checked(url, { endpoint: `${u.protocol}//${u.host}`, bucket: bucket ?? "", prefix: prefix.join("/") });
  }
  const parts = segments(rest);
  const host = parts[0] !== undefined ? AWS_HOST.exec(parts[0]) : null;
  if (host && parts[0]) {
    const [, bucket, ...prefix] = parts;
    const region = host[1];
    return checked(url, { endpoint: `https://${parts[0]}`, bucket: bucket ?? "", prefix: prefix.join("/"), ...(region ? { region } : {}) });
  }
  const [bucket, ...prefix] = parts;
  return checked(url, { bucket: bucket ?? "", prefix: prefix.join("/") });
}

/** The URL of a location as coffer prints it: no credentials, no trailing slash. */
export function formatS3Location(loc: S3Location): string {
  const path = loc.prefix === "" ? loc.bucket : `${loc.bucket}/${loc.prefix}`;
  return loc.endpoint === undefined ? `s3:${path}` : `s3:${loc.endpoint}/${path}`;
}

/**
 * COFFER_S3_PATH_STYLE (1/0, true/false), COFFER_S3_RAW_GET (1/0: coffer's own GETs over
 * plain HTTP, see s3-raw-get.ts), COFFER_S3_CONNECTIONS (requests at once),
 * COFFER_S3_TIMEOUT (seconds a request may stay silent) and, for a server given by URL,
 * AWS_REGION / AWS_DEFAULT_REGION. Invalid values are USAGE errors, not silently ignored.
 */
export function s3OptionsFromEnv(env: Record<string, string | undefined>, loc: S3Location): S3EnvOptions {
  const out: S3EnvOptions = {};
  const style = flag(env, "COFFER_S3_PATH_STYLE");
  if (style !== undefined) out.pathStyle = style;
  const raw = flag(env, "COFFER_S3_RAW_GET");
  if (raw !== undefined) out.rawGet = raw;
  const conns = env["COFFER_S3_CONNECTIONS"];
  if (conns !== undefined && conns !== "") {
    const n = Number(conns);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw badEnv("COFFER_S3_CONNECTIONS", conns, "a whole number from 1 to 256");
    out.connections = n;
  }
  const timeout = env["COFFER_S3_TIMEOUT"];
  if (timeout !== undefined && timeout !== "") {
    const s = Number(timeout);
    if (!Number.isFinite(s) || s <= 0) throw badEnv("COFFER_S3_TIMEOUT", timeout, "a number of seconds above 0");
    out.idleTimeoutMs = Math.round(s * 1000);
  }
  // For AWS the SDK resolves the region itself (environment, then profile); a server given by
  // URL rarely cares, and us-east-1 is what S3-compatible servers accept by default.
  const region = env["AWS_REGION"] || env["AWS_DEFAULT_REGION"] || loc.region;
  if (region) out.region = region;
  else if (loc.endpoint !== undefined) out.region = "us-east-1";
  return out;
}

function segments(path: string): string[] {
  return path.split("/").filter((s) => s !== "" && s !== ".");
}

function checked(url: string, loc: S3Location): S3Location {
  if (loc.bucket === "") throw usage(url, "it names no bucket");
  if (!BUCKET.test(loc.bucket)) throw usage(url, `${JSON.stringify(loc.bucket)} is not a valid bucket name`);
  if (loc.prefix.split("/").includes("..")) throw usage(url, 'its prefix holds ".."');
  return loc;
}

function usage(url: string, why: string): CofferError {
  return new CofferError("USAGE", `The repository URL ${JSON.stringify(redact(url))} is not a valid S3 location (${why}); write ${FORMS}.`, { url: redact(url) });
}

/** A 1/0 (true/false, yes/no, on/off) setting; undefined when unset. */
function flag(env: Record<string, string | undefined>, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw badEnv(name, v, "1 or 0");
}

function badEnv(name: string, value: string, want: string): CofferError {
  return new CofferError("USAGE", `${name}=${JSON.stringify(value)} is not valid; set it to ${want}.`, { [name]: value });
}

/** Hides a password written into a URL, so no message repeats it. */
function redact(url: string): string {
  return url.replace(/(\/\/[^/@:]*:)[^/@]*@/, "$1***@");
}
