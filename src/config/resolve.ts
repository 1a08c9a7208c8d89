/**
 * From a validated document (kebab-case, as written) to a `CofferConfig`: defaults applied,
 * paths made absolute against the configuration's folder (`~/` is the home folder), kinds
 * inferred, names and cross-references checked. Problems are collected as issues with their
 * path in the file, never thrown one at a time.
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { isEmptyPolicy, type Policy } from "../retention/index.js";
import type { RotateRule } from "../rotate/rule.js";
import type { FilterOptions } from "../snapshot/filters.js";
import type { ConfigIssue } from "./issues.js";
import { resolveJobs } from "./resolve-jobs.js";
import { resolveRotate } from "./resolve-rotate.js";
import type { ConfigDocument, HealthDocument, NotifyDocument, PolicyDocument, RecordsDocument, RepositoryDocument, SourceDocument } from "./schema.js";
import { asList } from "./schema-parts.js";
import { backendKind } from "./backend-kind.js";
import type { CofferConfig, HealthConfig, NotifyConfig, PolicyConfig, RecordsConfig, RepositoryConfig, SourceConfig } from "./types.js";
import { parseSize, parseSpan } from "./values.js";

export interface ResolveOptions {
  /** The configuration's folder: relative paths are taken from here. */
  dir: string;
  file?: string;
  /** For `~/` (HOME); default the process's. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The tools resolve-*.ts share: where paths are taken from, and the list issues go to. */
export interface Resolver {
  dir: string;
  issues: ConfigIssue[];
  /** `p` absolute: `~/` expanded, relative to `dir`. */
  path(p: string): string;
  issue(path: (string | number)[], message: string, hint?: string): void;
}

export { backendKind };

export const HEALTH_DEFAULTS = { port: 9312, lateFactor: 1.5, criticalFactor: 3, pendingMaxAge: "7d", minFreeSpace: "1G" } as const;
export const JOB_DEFAULTS = { retries: 2, retryDelay: "1min" } as const;
export const RECORDS_DEFAULTS = { olderThan: "365d", archiveDir: "archives", archiveMaxAge: "90d" } as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function resolveConfig(doc: ConfigDocument, opts: ResolveOptions): { config: CofferConfig; issues: ConfigIssue[] } {
  const env = opts.env ?? process.env;
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  const issues: ConfigIssue[] = [];
  const r: Resolver = {
    dir: opts.dir,
    issues,
    path: (p) => (p === "~" ? home : p.startsWith("~/") ? join(home, p.slice(2)) : isAbsolute(p) ? p : resolve(opts.dir, p)),
    issue: (path, message, hint) => void issues.push({ path, message, ...(hint !== undefined ? { hint } : {}) }),
  };
  for (const section of ["repositories", "sources", "policies", "jobs", "records"] as const) {
    for (const name of Object.keys(doc[section] ?? {})) {
      if (!NAME.test(name)) r.issue([section, name], `"${name}" is not a usable name`, "use letters, digits, dots, dashes and underscores, starting with a letter or digit");
    }
  }
  const repositories = mapEntries(doc.repositories, (name, d) => resolveRepository(r, name, d));
  const defaults = Object.values(repositories).filter((x) => x.isDefault);
  if (defaults.length > 1) r.issue(["repositories", defaults[1]?.name ?? ""], `only one repository can be the default, and ${defaults.map((d) => d.name).join(" and ")} both say so`, "remove default: true from all but one");
  const only = Object.keys(repositories).length === 1 ? Object.keys(repositories)[0] : undefined;
  const defaultRepository = defaults[0]?.name ?? only;
  if (defaultRepository !== undefined && repositories[defaultRepository]) repositories[defaultRepository].isDefault = true;

  const sources = mapEntries(doc.sources, (name, d) => resolveSource(r, name, d));
  const policies = mapEntries(doc.policies, (name, d) => ({ name, policy: resolvePolicy(r, ["policies", name], d), ...(d.description ? { description: d.description } : {}) }) satisfies PolicyConfig);
  const rotate: RotateRule[] = resolveRotate(r, doc.rotate);
  const records = mapEntries(doc.records, (name, d) => resolveRecords(r, name, d));
  const jobs = resolveJobs(r, doc.jobs ?? {}, { repositories, defaultRepository, sources, policies, rotate, records });
  const config: CofferConfig = {
    ...(opts.file !== undefined ? { file: opts.file } : {}),
    dir: opts.dir,
    version: 1,
    repositories,
    ...(defaultRepository !== undefined ? { defaultRepository } : {}),
    sources,
    policies,
    jobs,
    rotate,
    records,
    notify: resolveNotify(doc.notify),
    health: resolveHealth(doc.health, Object.values(repositories).some((x) => x.offsite)),
  };
  return { config, issues };
}

function mapEntries<D, T>(section: Record<string, D> | undefined, fn: (name: string, d: D) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [name, d] of Object.entries(section ?? {})) out[name] = fn(name, d);
  return out;
}


function resolveRepository(r: Resolver, name: string, d: RepositoryDocument): RepositoryConfig {
  const backend = backendKind(d.url);
  const url = backend !== "local" ? d.url : r.path(d.url.startsWith("local:") ? d.url.slice("local:".length) : d.url);
  const p = d.password;
  const password = p?.env !== undefined ? { env: p.env } : p?.file !== undefined ? { file: r.path(p.file) } : p?.command !== undefined ? { command: p.command } : p?.value !== undefined ? { value: p.value } : undefined;
  return {
    name,
    url,
    backend,
    ...(password ? { password } : {}),
    offsite: d.offsite === true,
    isDefault: d.default === true,
    ...(d.description ? { description: d.description } : {}),
  };
}

const FILTER_KEYS = ["exclude", "iexclude", "exclude-file", "ignore-file", "exclude-caches", "exclude-larger-than", "one-file-system"] as const;
const ONLY: Record<string, readonly ("files" | "sqlite" | "command")[]> = {
  paths: ["files", "sqlite"],
  databases: ["sqlite"],
  ...Object.fromEntries(FILTER_KEYS.map((k) => [k, ["files", "sqlite"]])),
  "integrity-check": ["sqlite"],
  command: ["command"],
  filename: ["command"],
  cwd: ["command"],
  env: ["command"],
  "tmp-dir": ["sqlite", "command"],
};

function resolveSource(r: Resolver, name: string, d: SourceDocument): SourceConfig {
  const at = ["sources", name];
  const kind = d.kind ?? (d.command !== undefined ? "command" : d.databases !== undefined ? "sqlite" : "files");
  for (const [key, kinds] of Object.entries(ONLY)) {
    if ((d as Record<string, unknown>)[key] !== undefined && !kinds.includes(kind)) {
      r.issue([...at, key], `${key} is not a setting of a ${kind} source`, `it belongs to ${kinds.join(" and ")} sources${d.kind === undefined ? `; this one is ${kind} because ${kind === "command" ? "it has a command" : kind === "sqlite" ? "it lists databases" : "it has neither command nor databases"}` : ""}`);
    }
  }
  const common = { name, tags: asList(d.tags), ...(d.description ? { description: d.description } : {}) };
  const paths = asList(d.paths).map(r.path);
  if (kind === "command") {
    if (d.command === undefined) r.issue(at, "a command source needs a command", 'add command: "pg_dump mydb" (its standard output is stored)');
    const filename = d.filename ?? "";
    if (d.filename === undefined) r.issue(at, "a command source needs a filename", "add filename: mydb.sql, the name its output is stored under");
    else if (filename.includes("/") || filename === "." || filename === "..") r.issue([...at, "filename"], `"${filename}" is not a plain file name`, "use a name without / such as mydb.sql; it is stored at /NAME in the snapshot");
    return { ...common, kind, command: d.command ?? "", filename, cwd: r.path(d.cwd ?? "."), env: d.env ?? {}, ...(d["tmp-dir"] !== undefined ? { tmpDir: r.path(d["tmp-dir"]) } : {}) };
  }
  const filters = resolveFilters(r, d);
  if (kind === "sqlite") {
    const databases = asList(d.databases).map(r.path);
    if (databases.length === 0) r.issue(at, "a sqlite source needs at least one database", "add databases: [data/app.db]");
    return { ...common, kind, databases, paths, filters, integrityCheck: d["integrity-check"] ?? "quick", ...(d["tmp-dir"] !== undefined ? { tmpDir: r.path(d["tmp-dir"]) } : {}) };
  }
  if (paths.length === 0) r.issue(at, "a files source needs at least one path", "add paths: [data] (relative to the configuration's folder)");
  return { ...common, kind: "files", paths, filters };
}

function resolveFilters(r: Resolver, d: SourceDocument): FilterOptions {
  return {
    excludes: asList(d.exclude),
    iexcludes: asList(d.iexclude),
    excludeFiles: asList(d["exclude-file"]).map(r.path),
    ignoreFiles: asList(d["ignore-file"]),
    ...(d["exclude-caches"] ? { excludeCaches: true } : {}),
    ...(d["exclude-larger-than"] !== undefined ? { excludeLargerThan: parseSize(d["exclude-larger-than"]) } : {}),
    ...(d["one-file-system"] ? { oneFileSystem: true } : {}),
  };
}

export function resolvePolicy(r: Resolver, at: (string | number)[], d: PolicyDocument): Policy {
  const p: Policy = {};
  const set = <K extends keyof Policy>(k: K, v: Policy[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set("last", d.last);
  set("hourly", d.hourly);
  set("daily", d.daily);
  set("weekly", d.weekly);
  set("monthly", d.monthly);
  set("yearly", d.yearly);
  set("within", d.within);
  set("withinHourly", d["within-hourly"]);
  set("withinDaily", d["within-daily"]);
  set("withinWeekly", d["within-weekly"]);
  set("withinMonthly", d["within-monthly"]);
  set("withinYearly", d["within-yearly"]);
  if (d.tags !== undefined) p.tags = asList(d.tags);
  set("maxAge", d["max-age"]);
  set("maxCount", d["max-count"]);
  set("timeZone", d["time-zone"]);
  set("allowEmpty", d["allow-empty"]);
  if (isEmptyPolicy(p)) r.issue(at, "this policy decides nothing", "add a keep rule (daily: 7, within: 30d) or a limit (max-age: 30d, max-count: 10)");
  return p;
}

function resolveRecords(r: Resolver, name: string, d: RecordsDocument): RecordsConfig {
  return {
    name,
    files: asList(d.files).map(r.path),
    timeField: d["time-field"],
    olderThan: d["older-than"] ?? RECORDS_DEFAULTS.olderThan,
    archiveDir: d["archive-dir"] ?? RECORDS_DEFAULTS.archiveDir,
    archiveMaxAge: d["archive-max-age"] ?? RECORDS_DEFAULTS.archiveMaxAge,
    ...(d.key !== undefined ? { key: d.key } : {}),
    format: d.format ?? "auto",
    ...(d["time-zone"] !== undefined ? { timeZone: d["time-zone"] } : {}),
  };
}

function resolveNotify(d: NotifyDocument | undefined): NotifyConfig {
  const hooks = d?.webhook === undefined ? [] : Array.isArray(d.webhook) ? d.webhook : [d.webhook];
  return {
    webhooks: hooks.map((h) =>
      typeof h === "string"
        ? { url: h, headers: {}, timeoutMs: 10_000, retries: 3 }
        : { url: h.url, headers: h.headers ?? {}, timeoutMs: h.timeout !== undefined ? parseSpan(h.timeout) : 10_000, retries: h.retries ?? 3 },
    ),
    commands: d?.command !== undefined ? [d.command] : [],
    onSuccess: d?.["on-success"] === true,
  };
}

function resolveHealth(d: HealthDocument | undefined, hasOffsite: boolean): HealthConfig {
  const free = d?.["min-free-space"] ?? HEALTH_DEFAULTS.minFreeSpace;
  return {
    port: d?.port ?? HEALTH_DEFAULTS.port,
    lateFactor: d?.["late-factor"] ?? HEALTH_DEFAULTS.lateFactor,
    criticalFactor: d?.["critical-factor"] ?? HEALTH_DEFAULTS.criticalFactor,
    ...(d?.["check-max-age"] !== undefined ? { checkMaxAge: d["check-max-age"] } : {}),
    pendingMaxAge: d?.["pending-max-age"] ?? HEALTH_DEFAULTS.pendingMaxAge,
    minFreeSpace: typeof free === "string" && free.trim().endsWith("%") ? { percent: Number(free.trim().slice(0, -1)) } : { bytes: parseSize(free) },
    requireOffsite: d?.["require-offsite"] ?? hasOffsite,
  };
}
