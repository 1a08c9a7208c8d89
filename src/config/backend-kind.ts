import type { BackendKind } from "./types.js";

/** `s3:…` → s3; a path, `local:PATH` or any other `word:` prefix (part of a path, as in restic) → local. */
export function backendKind(url: string): BackendKind {
  const scheme = /^([a-z][a-z0-9]*):/.exec(url)?.[1];
  return scheme === "s3" || scheme === "sftp" || scheme === "rest" || scheme === "rclone" ? scheme : "local";
}
