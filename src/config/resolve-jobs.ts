/**
 * The `jobs` section: which settings each kind of job takes, their defaults, the schedule,
 * and the names a job refers to (source, repository, policy, rules, records entries).
 */
import type { RotateRule } from "../rotate/rule.js";
import { type ConfigIssue, didYouMean } from "./issues.js";
import { JOB_DEFAULTS, resolvePolicy, type Resolver } from "./resolve.js";
import { buildSchedule } from "./schedule.js";
import type { JobDocument, JobKind } from "./schema-jobs.js";
import { asList } from "./schema-parts.js";
import type { JobConfig, PolicyConfig, RecordsConfig, RepositoryConfig, SourceConfig } from "./types.js";
import { parseSpan } from "./values.js";

interface Known {
  repositories: Record<string, RepositoryConfig>;
  defaultRepository: string | undefined;
  sources: Record<string, SourceConfig>;
  policies: Record<string, PolicyConfig>;
  rotate: RotateRule[];
  records: Record<string, RecordsConfig>;
}

const COMMON = ["what", "description", "enabled", "every", "at", "cron", "time-zone", "retries", "retry-delay", "timeout"];

/** The settings each kind takes besides the common ones. */
export const JOB_SETTINGS: Record<JobKind, readonly string[]> = {
  backup: ["source", "repository", "tags", "policy", "prune"],
  forget: ["repository", "policy", "source", "prune"],
  prune: ["repository", "max-unused"],
  check: ["repository", "read-data", "read-data-subset"],
  copy: ["repository", "to", "source"],
  rotate: ["rules"],
  records: ["records"],
  "bak-clean": ["paths", "committed", "keep"],
  command: ["command", "cwd", "env"],
};

export function resolveJobs(r: Resolver, jobs: Record<string, JobDocument>, known: Known): Record<string, JobConfig> {
  const out: Record<string, JobConfig> = {};
  for (const [name, d] of Object.entries(jobs)) {
    const job = resolveJob(r, name, d, known);
    if (job !== undefined) out[name] = job;
  }
  return out;
}

function resolveJob(r: Resolver, name: string, d: JobDocument, k: Known): JobConfig | undefined {
  const at = ["jobs", name];
  const allowed = JOB_SETTINGS[d.what];
  for (const key of Object.keys(d)) {
    if (COMMON.includes(key) || allowed.includes(key) || (d as Record<string, unknown>)[key] === undefined) continue;
    const owners = (Object.keys(JOB_SETTINGS) as JobKind[]).filter((w) => JOB_SETTINGS[w].includes(key));
    r.issue([...at, key], `a ${d.what} job has no setting ${key}`, `${key} is for ${owners.join(", ")} jobs; a ${d.what} job takes ${allowed.join(", ")}`);
  }
  const schedule = buildSchedule(d, (key, message, hint) => r.issue(key === undefined ? at : [...at, key], message, hint));
  const base = {
    name,
    ...(d.description ? { description: d.description } : {}),
    enabled: d.enabled !== false,
    schedule,
    retries: d.retries ?? JOB_DEFAULTS.retries,
    retryDelayMs: parseSpan(d["retry-delay"] ?? JOB_DEFAULTS.retryDelay),
    ...(d.timeout !== undefined ? { timeoutMs: parseSpan(d.timeout) } : {}),
  };
  const repository = (key = "repository", value = d.repository): string => {
    if (value === undefined) {
      if (k.defaultRepository !== undefined) return k.defaultRepository;
      const names = Object.keys(k.repositories);
      r.issue(at, `a ${d.what} job needs a repository`, names.length === 0 ? "add a repositories section and name one with repository: NAME" : `add repository: with one of ${names.join(", ")}`);
      return "";
    }
    if (!k.repositories[value]) r.issue([...at, key], unknownName("repository", value), namesHint("repositories", value, Object.keys(k.repositories)));
    return value;
  };
  const source = (required: boolean): string | undefined => {
    if (d.source === undefined) {
      if (required) r.issue(at, `a ${d.what} job needs a source`, hintNames("sources", Object.keys(k.sources), "add source: NAME with one of"));
      return undefined;
    }
    if (!k.sources[d.source]) r.issue([...at, "source"], unknownName("source", d.source), namesHint("sources", d.source, Object.keys(k.sources)));
    return d.source;
  };
  const policy = (required: boolean): PolicyConfig | undefined => {
    const p = d.policy;
    if (p === undefined) {
      if (required) r.issue(at, `a ${d.what} job needs a policy`, hintNames("policies", Object.keys(k.policies), "add policy: NAME with one of", "or write one here, e.g. policy: {max-age: 30d, max-count: 10}"));
      return undefined;
    }
    if (typeof p !== "string") return { name: `jobs.${name}.policy`, policy: resolvePolicy(r, [...at, "policy"], p) };
    const found = k.policies[p];
    if (!found) r.issue([...at, "policy"], unknownName("policy", p), namesHint("policies", p, Object.keys(k.policies)));
    return found ?? { name: p, policy: {} };
  };
  switch (d.what) {
    case "backup": {
      const pol = policy(false);
      if (d.prune === true && pol === undefined) r.issue([...at, "prune"], "prune after a backup needs a policy", "add policy: NAME, or run prune as its own job");
      return { ...base, what: "backup", source: source(true) ?? "", repository: repository(), tags: asList(d.tags), ...(pol ? { policy: pol } : {}), prune: d.prune === true };
    }
    case "forget": {
      const src = source(false);
      return { ...base, what: "forget", repository: repository(), policy: policy(true) ?? { name: "", policy: {} }, ...(src !== undefined ? { source: src } : {}), prune: d.prune === true };
    }
    case "prune":
      if (d["max-unused"] !== undefined && !/^(\d+(\.\d+)?%|unlimited|\d+(\.\d+)?\s*[kmgt]?(i?b)?)$/i.test(String(d["max-unused"]).trim())) {
        r.issue([...at, "max-unused"], `"${String(d["max-unused"])}" is not an amount of unused space`, "use a percentage (5%), a size (1G) or unlimited");
      }
      return { ...base, what: "prune", repository: repository(), ...(d["max-unused"] !== undefined ? { maxUnused: d["max-unused"] } : {}) };
    case "check": {
      const subset = d["read-data-subset"];
      if (subset !== undefined && !/^(\d+\/\d+|\d+(\.\d+)?%)$/.test(subset.trim())) r.issue([...at, "read-data-subset"], `"${subset}" is not a subset`, "use n/t (the n-th of t parts, e.g. 1/7) or a percentage (10%)");
      return { ...base, what: "check", repository: repository(), readData: d["read-data"] === true, ...(subset !== undefined ? { readDataSubset: subset } : {}) };
    }
    case "copy": {
      const from = repository();
      const to = asList(d.to);
      if (to.length === 0) r.issue(at, "a copy job needs to: the repositories to copy to", hintNames("repositories", Object.keys(k.repositories).filter((n) => n !== from), "add to: with one or more of"));
      to.forEach((t, i) => {
        const path = Array.isArray(d.to) ? [...at, "to", i] : [...at, "to"];
        if (!k.repositories[t]) r.issue(path, unknownName("repository", t), namesHint("repositories", t, Object.keys(k.repositories)));
        else if (t === from) r.issue(path, `a copy job cannot copy ${t} to itself`, "name other repositories in to");
      });
      const src = source(false);
      return { ...base, what: "copy", repository: from, to, ...(src !== undefined ? { source: src } : {}) };
    }
    case "rotate": {
      const names = k.rotate.map((x) => x.name ?? "");
      if (k.rotate.length === 0) r.issue(at, "a rotate job needs rotate rules, and the rotate section has none", "add a rotate section with the logs to rotate");
      const rules = asList(d.rules);
      rules.forEach((n, i) => {
        if (!names.includes(n)) r.issue(Array.isArray(d.rules) ? [...at, "rules", i] : [...at, "rules"], unknownName("rotate rule", n), namesHint("rules", n, names));
      });
      return { ...base, what: "rotate", rules: rules.length > 0 ? rules : names };
    }
    case "records": {
      const names = Object.keys(k.records);
      if (names.length === 0) r.issue(at, "a records job needs records entries, and the records section has none", "add a records section with the files to archive");
      const chosen = asList(d.records);
      chosen.forEach((n, i) => {
        if (!k.records[n]) r.issue(Array.isArray(d.records) ? [...at, "records", i] : [...at, "records"], unknownName("records entry", n), namesHint("records", n, names));
      });
      return { ...base, what: "records", records: chosen.length > 0 ? chosen : names };
    }
    case "bak-clean": {
      const paths = asList(d.paths).map(r.path);
      if (paths.length === 0) r.issue(at, "a bak-clean job needs paths: the folders to search for .bak copies", "add paths: [.]");
      return { ...base, what: "bak-clean", paths, committed: d.committed !== false, ...(d.keep !== undefined ? { keep: d.keep } : {}) };
    }
    case "command":
      if (d.command === undefined) r.issue(at, "a command job needs a command", 'add command: "/usr/local/bin/my-task --flag"');
      return { ...base, what: "command", command: d.command ?? "", cwd: r.path(d.cwd ?? "."), env: d.env ?? {} };
  }
}

function unknownName(what: string, name: string): string {
  return `there is no ${what} named "${name}"`;
}

/** "did you mean offsite?" for a near miss, else the names there are. */
function namesHint(section: string, name: string, names: string[]): string {
  const near = didYouMean(name, names);
  return near !== undefined ? `did you mean ${near}? (${section}: ${names.join(", ")})` : hintNames(section, names);
}

function hintNames(section: string, names: string[], lead = "use one of", extra?: string): string {
  if (names.length === 0) return `the ${section} section has none; add it first${extra ? `, ${extra}` : ""}`;
  return `${lead} ${names.join(", ")}${extra ? `, ${extra}` : ""}`;
}

export type { ConfigIssue };
