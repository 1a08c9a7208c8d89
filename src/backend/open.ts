import { homedir } from "node:os";
import { join } from "node:path";
import { CofferError } from "../core/errors.js";
import type { Backend } from "./backend.js";
import { LimitBackend } from "./limit.js";
import { LocalBackend } from "./local.js";
import { parseRcloneUrl, RcloneBackend } from "./rclone.js";
import { parseRestUrl, RestBackend } from "./rest.js";
import { RetryBackend, type RetryOptions } from "./retry.js";

/** Schemes DESIGN.md names whose drivers are not written yet. */
const PLANNED = new Set(["s3", "sftp", "rest", "rclone"]);

/**
 * The driver for a repository URL: a path or `local:PATH` (a leading `~/` is the home
 * directory). `s3:`, `sftp:`, `rest:` and `rclone:` are refused with UNSUPPORTED. Any other
 * `word:` prefix is part of a path, as in restic (a directory may be called `backup:2024`).
 * The driver is bare: pass it through `wrapBackend` before use.
 */
export function openBackend(url: string): Backend {
  const scheme = /^([a-z][a-z0-9]*):/.exec(url)?.[1];
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
  retry?: RetryOptions;
}

/**
 * The one place the wrappers are stacked: retry outside, limit inside, so a request waiting to
 * be retried holds no connection slot, and each attempt takes one.
 */
export function wrapBackend(b: Backend, opts: WrapOptions = {}): Backend {
  return new RetryBackend(new LimitBackend(b, opts.connections), opts.retry);
}

function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}
