import { createHash, createHmac } from "node:crypto";

/** What signing a request needs: the SDK's resolved credentials and region. */
export interface SigningIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

/** SHA-256 of an empty payload: a GET's body. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * The headers of an AWS Signature Version 4 for a GET of `path` (already URI-encoded, as sent
 * in the request line) on `host`, with `extra` headers signed as well (lower-case names; a
 * Range). S3's rules: the path is encoded once, the payload hash travels as
 * `x-amz-content-sha256`. `now` is the signing time.
 */
export function signGet(id: SigningIdentity, host: string, path: string, extra: Record<string, string>, now: Date): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { host, ...extra, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amzDate };
  if (id.sessionToken) headers["x-amz-security-token"] = id.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = ["GET", path, "", ...names.map((n) => `${n}:${String(headers[n]).trim()}`), "", names.join(";"), EMPTY_SHA256].join("\n");
  const scope = `${day}/${id.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const signature = createHmac("sha256", signingKey(id, day)).update(toSign).digest("hex");
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${id.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return headers;
}

let cached: { secret: string; day: string; region: string; key: Buffer } | undefined;

/** The day's signing key (four HMACs), kept for the next request of the same day. */
function signingKey(id: SigningIdentity, day: string): Buffer {
  if (cached && cached.secret === id.secretAccessKey && cached.day === day && cached.region === id.region) return cached.key;
  let key = createHmac("sha256", `AWS4${id.secretAccessKey}`).update(day).digest();
  for (const part of [id.region, "s3", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  cached = { secret: id.secretAccessKey, day, region: id.region, key };
  return key;
}

/** A key's path as S3 wants it in a request and its signature: each segment percent-encoded (RFC 3986), slashes kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}
