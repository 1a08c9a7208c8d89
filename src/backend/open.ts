import { homedir } from "node:os";
import { join } from "node:path";
import { CofferError } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { Backend } from "./backend.js";
import { LimitBackend } from "./limit.js";
import { LocalBackend } from "./local.js";
import { parseRcloneUrl, RcloneBackend } from "./rclone.js";
import { parseRestUrl, RestBackend } from "./rest.js";
import { RetryBackend, type RetryOptions } from "./retry.js";
import { retryWarning } from "./retry-warning.js";
import { S3Backend } from "./s3.js";
import { parseS3Url, s3OptionsFromEnv } from "./s3-url.js";
import { SftpBackend } from "./sftp.js";
import { sftpOptions } from "./sftp-options.js";

export interface OpenBackendOptions {
  /** Where driver settings (COFFER_S3_*, COFFER_SFTP_*, COFFER_SSH_CONFIG, AWS_REGION, HOME) are read; default process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * The driver for a repository URL: a path or `local:PATH` (a leading `~/` is the home
 * directory), `s3:https://HOST[:PORT]/BUCKET[/PREFIX]` / `s3:BUCKET[/PREFIX]`,
 * `sftp:[USER@]HOST:PATH` / `sftp://[USER@]HOST[:PORT]/PATH` (HOST may be a ~/.ssh/config
 * alias), `rest:URL` or
 * `rclone:REMOTE:PATH` (docs/backends.md). Any other `word:` prefix is part of a path, as in
 * restic (a directory may be called `backup:2024`).
 * The driver is bare: pass it through `wrapBackend` before use.
 */
export function openBackend(url: string, opts: OpenBackendOptions = {}): Backend {
  const scheme = /^([a-z][a-z0-9]*):/.exec(url)?.[1];
  const env = opts.env ?? process.env;
  if (scheme === "s3") {
    const loc = parseS3Url(url);
    return new S3Backend({ ...loc, ...s3OptionsFromEnv(env, loc) });
  }
  if (scheme === "sftp") return new SftpBackend(sftpOptions(url, env));
  if (scheme === "rest") return new RestBackend(parseRestUrl(url));
  if (scheme === "rclone") return new RcloneBackend(parseRcloneUrl(url));
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
  /** Told of each request that failed and will be tried again (a RETRY warning), after `retry.onRetry`. */
  onWarning?: WarningSink;
}

/**
 * The one place the wrappers are stacked: retry outside, limit inside, so a request waiting to
 * be retried holds no connection slot, and each attempt takes one.
 */
export function wrapBackend(b: Backend, opts: WrapOptions = {}): Backend {
  const retry = opts.retry ?? retryOptionsFromEnv(opts.env ?? process.env);
  const { onWarning } = opts;
  if (onWarning === undefined) return new RetryBackend(new LimitBackend(b, opts.connections), retry);
  const onRetry = retry.onRetry;
  return new RetryBackend(new LimitBackend(b, opts.connections), {
    ...retry,
    onRetry: (info) => {
      try {
        onRetry?.(info);
      } finally {
        onWarning(retryWarning(info, b.location));
      }
    },
  });
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
