import { RawHttpGetter, type RawResponse } from "./raw-http-get.js";
import type { S3Options } from "./s3.js";

/**
 * The fast GET path (RawHttpGetter) for a server given by an `http://` URL with no path of
 * its own, the bucket in the request's path; undefined otherwise (HTTPS, AWS, virtual hosts),
 * where the SDK does every request, and with `opts.rawGet` false (COFFER_S3_RAW_GET=0).
 */
export function rawGetterFor(opts: S3Options, connections: number): { getter: RawHttpGetter; host: string } | undefined {
  if (opts.endpoint === undefined || opts.pathStyle === false || opts.rawGet === false) return undefined;
  let u: URL;
  try {
    u = new URL(opts.endpoint);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" || (u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.username !== "") return undefined;
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const getter = new RawHttpGetter({ host, port: Number(u.port || 80), connectTimeoutMs: opts.connectTimeoutMs ?? 10_000, idleTimeoutMs: opts.idleTimeoutMs ?? 60_000, maxIdle: connections });
  return { getter, host: u.host };
}

/** An S3 error response as the SDK reports it: its code as the name, and the HTTP status. */
export function xmlError(res: RawResponse): Error {
  const xml = res.body.toString("utf8");
  const field = (tag: string): string | undefined => {
    const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
    return m?.[1]?.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] ?? "");
  };
  const code = field("Code");
  const err = new Error(field("Message") ?? `HTTP ${res.status}`);
  if (code) Object.assign(err, { name: code, Code: code });
  return Object.assign(err, { $metadata: { httpStatusCode: res.status } });
}
