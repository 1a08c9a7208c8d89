/**
 * rotate: log rotation of live files, between backups. Rules (size or calendar interval in a
 * time zone, guards, dated or numbered names, backups then archive directories, compression,
 * retention through the retention engine) applied by `rotate` under a lock with a state file;
 * a logrotate configuration read into the same rules; and a rotating Writable (with pino and
 * winston adapters) for applications that rotate their own logs; versioned outputs
 * (`writeVersioned`) and `.bak` copies beside edited files (`makeBak`, cleaned once committed in
 * git). Files only: no repository.
 */
export { checkDue, type DueDecision, type DueInput } from "./check-due.js";
export { compressFile, type CompressResult } from "./compress-file.js";
export { parseLogrotateConfig, readLogrotateConfig, type LogrotateConversion } from "./logrotate-config.js";
export { planCopies, type CopyStep } from "./plan-copies.js";
export type { RotateAction, RotateResult } from "./rotate-action.js";
export { rotate, type RotateOptions } from "./rotate-files.js";
export { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
export type { Warning as RotateWarning, WarningCode as RotateWarningCode, WarningSink as RotateWarningSink } from "../core/warning.js";
export { createRotatingStream, RotatingStream, type RotatingStreamOptions, type StreamRule } from "./rotating-stream.js";
export { resolveRule, ROTATE_DEFAULTS, type Compression, type Interval, type ResolvedRule, type RotateDefaults, type RotateMode, type RotateRule } from "./rule.js";
export { RotatingFileTransport, type RotatingFileTransportOptions } from "./winston-transport.js";
export { writeVersioned, saveVersion, listVersions, type VersionFile, type WriteVersionedOptions, type WriteVersionedResult } from "./write-versioned.js";
export { makeBak, findBaks, parseBakName, BAK_KEEP, type BakFile, type MakeBakOptions, type MakeBakResult } from "./bak.js";
export { restoreBak, type RestoreBakOptions, type RestoreBakResult } from "./bak-restore.js";
export { cleanBaks, listBaks, type BakGroup, type CleanBaksFile, type CleanBaksOptions, type CleanBaksResult } from "./bak-clean.js";
export { installBakHook, type InstallBakHookOptions, type InstallBakHookResult } from "./bak-hook.js";
export { commitStates, type CommitState } from "./git-status.js";
export { stageFile, writeFileAtomic, sweepTemps, type StagedFile, type StageSource, type AtomicWriteOptions } from "./stage-file.js";
export { takeLock, type TakeLockOptions } from "./take-lock.js";
