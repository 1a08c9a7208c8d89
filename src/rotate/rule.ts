import { CofferError } from "../core/errors.js";
import { CalendarBuckets, parseDuration, type Duration } from "../retention/index.js";
import { dateFormat, type DateFormat } from "./date-format.js";
import { ownerId } from "./owner-id.js";
import { parseByteSize } from "./parse-byte-size.js";

export type Interval = "hourly" | "daily" | "weekly" | "monthly" | "yearly";
/** `create`: rename, then a new empty file with the old one's mode and owner; `rename`: rename only (logrotate's nocreate); `copytruncate`: copy, then truncate in place. */
export type RotateMode = "create" | "rename" | "copytruncate";
export type Compression = "gzip" | "zstd" | "none";

/**
 * One log rotation rule, as written in code or a configuration. Every field but `files` has a
 * default (`ROTATE_DEFAULTS`, the seeds' practice). Sizes take numbers or `5M`-style text,
 * durations restic's `30d`/`12h` form. Directories are relative to each log file's directory.
 *
 * The copies of a log form one sequence, newest first: the newest `keep` live in `backupsDir`,
 * older ones in `archiveDir` until `archiveMaxAge` or `archiveKeep` removes them (with no
 * archive directory they are removed at once). Any copy older than `compressAfter` is compressed.
 */
export interface RotateRule {
  /** Shown in reasons and results; default "rule N". */
  name?: string;
  /** Log files: paths or globs (`*`, `?`, `[…]`, `{a,b}` inside a path segment). */
  files: string[];
  /** Rotate when the file is at least this big. With neither `size` nor `interval` given, both defaults apply; with one, the other is off. */
  size?: number | string | null;
  /** Rotate when the calendar hour/day/ISO week/month/year has changed since the last rotation. */
  interval?: Interval | null;
  /** IANA zone for `interval` and the date in names; default the machine's. */
  timeZone?: string;
  /** Rotate early, whatever the interval and guards say, once the file is bigger than this. */
  maxSize?: number | string | null;
  /** Guard for the interval trigger: a smaller file is left alone. */
  minSize?: number | string | null;
  /** Guard for the interval trigger: a younger file is left alone. */
  minAge?: string | null;
  /** What `minAge` measures from: the file's creation (or last rotation) or its last change. */
  minAgeFrom?: "created" | "modified";
  /** `date`: `app.log` + date + `.N` on collision; `numbered`: `app.log.1`, `.2`, … shifted at each rotation. */
  naming?: "date" | "numbered";
  /** strftime form of the date suffix, e.g. `.%Y-%m-%d` or logrotate's `-%Y%m%d`. */
  dateFormat?: string;
  /** The time in a copy's name: `start`, when the file began (its first lines: yesterday's date for a midnight rotation); `rotation`, when it was rotated (logrotate's dateext); `yesterday`, the day before the rotation (logrotate's dateyesterday). */
  nameDate?: "start" | "rotation" | "yesterday";
  backupsDir?: string;
  /** How many of the newest copies stay in `backupsDir` (0: straight to the archive). */
  keep?: number;
  /** Where older copies go; null: they are deleted. */
  archiveDir?: string | null;
  compress?: Compression;
  /** gzip 1–9, zstd 1–19. */
  compressLevel?: number;
  /** A copy is compressed once older than this (`0h`: at once). */
  compressAfter?: string;
  /** The newest copy stays uncompressed (logrotate's delaycompress: the writer may still hold it open). */
  delayCompress?: boolean;
  /** Archived copies older than this are deleted; null: no age limit. */
  archiveMaxAge?: string | null;
  /** At most this many archived copies; null: no count limit. */
  archiveKeep?: number | null;
  mode?: RotateMode;
  /** Mode of the file `create` makes (number or octal text); default the old file's. */
  createMode?: number | string;
  createOwner?: string | number;
  createGroup?: string | number;
  missingOk?: boolean;
  /** Rotate empty files too. */
  ifEmpty?: boolean;
  /** The opposite of `ifEmpty`, as logrotate spells it. */
  notIfEmpty?: boolean;
  /** Shell command run after rotating: `$1` is the log file, `$2` its rotated copy (with `sharedScripts`: once per rule, `$1` the rule's patterns). */
  postRotate?: string;
  sharedScripts?: boolean;
  /** Tell the writer to reopen its file: a signal to the pid in a pid file. */
  signal?: { pidFile: string; signal?: NodeJS.Signals };
  /** `always`: compress, archive and delete old copies on every run; `on-rotation`: only when the log rotates (logrotate). */
  maintain?: "always" | "on-rotation";
}

export type RotateDefaults = Omit<RotateRule, "files" | "name">;

/** The seeds' practice: 5 MB or midnight; under 5 KB or younger than an hour left alone; 7 in backups/, then archive/, gzip after 7 days, gone after 30 days or beyond 7. */
export const ROTATE_DEFAULTS: Readonly<RotateDefaults> = Object.freeze({
  size: "5M",
  interval: "daily",
  minSize: "5k",
  minAge: "1h",
  minAgeFrom: "created",
  naming: "date",
  dateFormat: ".%Y-%m-%d",
  nameDate: "start",
  backupsDir: "backups",
  keep: 7,
  archiveDir: "archive",
  compress: "gzip",
  compressAfter: "7d",
  delayCompress: false,
  archiveMaxAge: "30d",
  archiveKeep: 7,
  mode: "create",
  missingOk: false,
  ifEmpty: false,
  sharedScripts: false,
  maintain: "always",
} satisfies RotateDefaults);

/** A rule with every default applied and every value checked and parsed. */
export interface ResolvedRule {
  name: string;
  files: string[];
  size: number | undefined;
  interval: Interval | undefined;
  timeZone: string | undefined;
  calendar: CalendarBuckets;
  maxSize: number | undefined;
  minSize: number | undefined;
  minAge: Duration | undefined;
  minAgeFrom: "created" | "modified";
  naming: "date" | "numbered";
  date: DateFormat;
  nameDate: "start" | "rotation" | "yesterday";
  backupsDir: string;
  keep: number;
  archiveDir: string | undefined;
  compress: Compression;
  compressLevel: number | undefined;
  compressAfter: Duration;
  delayCompress: boolean;
  archiveMaxAge: string | undefined;
  archiveKeep: number | undefined;
  mode: RotateMode;
  createMode: number | undefined;
  createOwner: number | undefined;
  createGroup: number | undefined;
  missingOk: boolean;
  ifEmpty: boolean;
  postRotate: string | undefined;
  sharedScripts: boolean;
  signal: { pidFile: string; signal: NodeJS.Signals } | undefined;
  maintain: "always" | "on-rotation";
}

const INTERVALS: readonly Interval[] = ["hourly", "daily", "weekly", "monthly", "yearly"];

/** Applies `defaults` to `rule` and checks it; throws CofferError INVALID naming the field. */
export function resolveRule(rule: RotateRule, index = 0, defaults: RotateDefaults = ROTATE_DEFAULTS): ResolvedRule {
  const name = rule.name ?? `rule ${index + 1}`;
  const bad = (field: string, msg: string): CofferError => new CofferError("INVALID", `${name}: ${field} ${msg}`, { rule: name, field });
  if (!Array.isArray(rule.files) || rule.files.length === 0 || rule.files.some((f) => typeof f !== "string" || f === "")) {
    throw bad("files", "must list at least one path or glob.");
  }
  const r = { ...defaults, ...stripUndefined(rule) };
  const noTrigger = rule.size === undefined && rule.interval === undefined;
  const size = noTrigger ? defaults.size : rule.size;
  const interval = noTrigger ? defaults.interval : rule.interval;
  if (interval != null && !INTERVALS.includes(interval)) throw bad("interval", `must be one of ${INTERVALS.join(", ")}, not "${String(interval)}".`);
  const oneOf = <T extends string>(field: string, v: unknown, allowed: readonly T[]): T => {
    if (!allowed.includes(v as T)) throw bad(field, `must be one of ${allowed.join(", ")}, not "${String(v)}".`);
    return v as T;
  };
  const count = (field: string, v: unknown): number => {
    if (!Number.isInteger(v) || (v as number) < 0) throw bad(field, `must be a whole number of at least 0, not ${String(v)}.`);
    return v as number;
  };
  const duration = (field: string, v: string): Duration => {
    try {
      return parseDuration(v);
    } catch (err) {
      throw bad(field, (err as Error).message);
    }
  };
  const bytes = (field: string, v: number | string | null | undefined): number | undefined => (v == null ? undefined : parseByteSize(v, `${name}: ${field}`));
  if (rule.ifEmpty !== undefined && rule.notIfEmpty !== undefined && rule.ifEmpty === rule.notIfEmpty) {
    throw bad("ifEmpty", "and notIfEmpty contradict each other; give one.");
  }
  const ifEmpty = rule.notIfEmpty !== undefined ? !rule.notIfEmpty : rule.ifEmpty ?? (defaults.notIfEmpty !== undefined ? !defaults.notIfEmpty : defaults.ifEmpty === true);
  const compress = oneOf("compress", r.compress ?? "none", ["gzip", "zstd", "none"] as const);
  const compressLevel = r.compressLevel;
  if (compressLevel !== undefined) {
    const max = compress === "zstd" ? 19 : 9;
    if (!Number.isInteger(compressLevel) || compressLevel < 1 || compressLevel > max) throw bad("compressLevel", `must be 1 to ${max} for ${compress}.`);
  }
  const timeZone = r.timeZone;
  const naming = oneOf("naming", r.naming ?? "date", ["date", "numbered"] as const);
  const archiveMaxAge = r.archiveMaxAge ?? undefined;
  if (archiveMaxAge !== undefined) duration("archiveMaxAge", archiveMaxAge);
  const signal = r.signal;
  if (signal !== undefined && (typeof signal.pidFile !== "string" || signal.pidFile === "")) throw bad("signal", "needs a pidFile.");
  return {
    name,
    files: [...rule.files],
    size: bytes("size", size),
    interval: interval ?? undefined,
    timeZone,
    calendar: new CalendarBuckets(timeZone),
    maxSize: bytes("maxSize", r.maxSize),
    minSize: bytes("minSize", r.minSize),
    minAge: r.minAge == null ? undefined : duration("minAge", r.minAge),
    minAgeFrom: oneOf("minAgeFrom", r.minAgeFrom ?? "created", ["created", "modified"] as const),
    naming,
    date: dateFormat(r.dateFormat ?? ".%Y-%m-%d", timeZone),
    nameDate: oneOf("nameDate", r.nameDate ?? "rotation", ["start", "rotation", "yesterday"] as const),
    backupsDir: r.backupsDir ?? ".",
    keep: count("keep", r.keep ?? 0),
    archiveDir: r.archiveDir ?? undefined,
    compress,
    compressLevel,
    compressAfter: duration("compressAfter", r.compressAfter ?? "0h"),
    delayCompress: r.delayCompress === true,
    archiveMaxAge,
    archiveKeep: r.archiveKeep == null ? undefined : count("archiveKeep", r.archiveKeep),
    mode: oneOf("mode", r.mode ?? "create", ["create", "rename", "copytruncate"] as const),
    createMode: r.createMode === undefined ? undefined : fileMode(r.createMode, bad),
    createOwner: r.createOwner === undefined ? undefined : ownerId(r.createOwner, "user"),
    createGroup: r.createGroup === undefined ? undefined : ownerId(r.createGroup, "group"),
    missingOk: r.missingOk === true,
    ifEmpty,
    postRotate: r.postRotate,
    sharedScripts: r.sharedScripts === true,
    signal: signal === undefined ? undefined : { pidFile: signal.pidFile, signal: signal.signal ?? "SIGHUP" },
    maintain: oneOf("maintain", r.maintain ?? "always", ["always", "on-rotation"] as const),
  };
}

function fileMode(v: number | string, bad: (f: string, m: string) => CofferError): number {
  const n = typeof v === "number" ? v : /^[0-7]{3,4}$/.test(v) ? Number.parseInt(v, 8) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0o7777) throw bad("createMode", `must be an octal mode such as "0640", not ${String(v)}.`);
  return n;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
