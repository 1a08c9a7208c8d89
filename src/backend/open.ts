import { homedir } from "node:os";
import { join } from "node:path";
import { CofferError } from "../core/errors.js";
import type { Backend } from "./backend.js";
import { LimitBackend } from "./limit.js";
import { LocalBackend } from "./local.js";
import { parseRcloneUrl, RcloneBackend } from "./rclone.js";
import { parseRestUrl, RestBackend } from "./rest.js";
import { RetryBackend, type RetryOptions } from "./retry.js";
import { S3Backend } from "./s3.js";
import { parseS3Url, s3OptionsFromEnv } from "./s3-url.js";

/** Schemes DESIGN.md names whose drivers are not written yet. */
const PLANNED = new Set(["sftp", "rest", "rclone"]);

export interface OpenBackendOptions {
  /** Where driver settings (COFFER_S3_*, AWS_REGION) are read; default process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * The driver for a repository URL: a path or `local:PATH` (a leading `~/` is the home
 * directory), or `s3:https://HOST[:PORT]/BUCKET[/PREFIX]` / `s3:BUCKET[/PREFIX]` (docs/backends.md).
 * `sftp:`, `rest:` and `rclone:` are refused with UNSUPPORTED. Any other
 * `word:` prefix is part of a path, as in restic (a directory may be called `backup:2024`).
 * The driver is bare: pass it through `wrapBackend` before use.
 */
export function openBackend(url: string, opts: OpenBackendOptions = {}): Backend {
  const scheme = /^([a-z][a-z0-9]*):/.exec(url)?.[1];
  if (scheme === "s3") {
    const loc = parseS3Url(url);
    return new S3Backend({ ...loc, ...s3OptionsFromEnv(opts.env ?? process.env, loc) });
  }
  if (scheme === "rest") return new RestBackend(parseRestUrl(url));
  if (scheme === "rclone") return new RcloneBackend(parseRcloneUrl(url));
  if (scheme !== undefined && PLANNED.has(scheme)) {
    throw new CofferError("UNSUPPORTED", `${scheme}: backends are not available in this build yet; use a local path (or local:PATH) for the repository.`, {
      scheme,
    });
  }
  const path = scheme === "local" ? url.slice("local:".length) : url;
  if (path === "") {
    throw new CofferError("USAGE", `No repository path given in ${JSON.stringify(url)}; name one with --repo or COFFER_REPOSITORY.`, { url });
  }
  return new LocalBackend(expandHome(path));
}

export interface WrapOptions {
  /** Requests in flight at once (default: the driver's `properties.connections`). */
  connections?: number;
  /** Default: 10 attempts, or 1 + COFFER_BACKEND_RETRIES from `env`. */
  retry?: RetryOptions;
  /** Default process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * The one place the wrappers are stacked: retry outside, limit inside, so a request waiting to
 * be retried holds no connection slot, and each attempt takes one.
 */
export function wrapBackend(b: Backend, opts: WrapOptions = {}): Backend {
  return new RetryBackend(new LimitBackend(b, opts.connections), opts.retry ?? retryOptionsFromEnv(opts.env ?? process.env));
}

/** COFFER_BACKEND_RETRIES: how often a failed request is tried again (0 turns retrying off). */
export function retryOptionsFromEnv(env: Record<string, string | undefined>): RetryOptions {
  const v = env["COFFER_BACKEND_RETRIES"];
  if (v === undefined || v === "") return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 100) {
    throw new CofferError("USAGE", `COFFER_BACKEND_RETRIES=${JSON.stringify(v)} is not valid; set it to a whole number from 0 to 100.`, { COFFER_BACKEND_RETRIES: v });
  }
  return { attempts: n + 1 };
}

function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}
