/**
 * The commented starter `coffer.yaml` that `coffer config init` writes: one repository, the
 * project's files (and its SQLite databases, copied consistently), a policy, and the jobs a
 * project usually wants, with the other sections shown commented out.
 */
import type { PasswordSource } from "./types.js";

export interface StarterOptions {
  /** The folder the configuration is for (named in the header only). */
  dir: string;
  /** The source's name, e.g. the folder's name. */
  name: string;
  repository: { name: string; url: string; password?: PasswordSource; offsite?: boolean };
  /** Relative to the configuration's folder. */
  paths: string[];
  excludes: string[];
  ignoreFiles: string[];
  excludeCaches: boolean;
  /** SQLite databases found (relative), given a source of their own. */
  databases: string[];
  /** Log files or globs found (relative), given a commented rotate rule. */
  logs: string[];
  every: string;
  at?: string;
  policy: { daily?: number; weekly?: number; monthly?: number; maxAge?: string; maxCount?: number };
}

/** A YAML scalar: plain when that reads back as the same string, else double-quoted. */
function q(s: string): string {
  return /^[A-Za-z0-9_./~-][A-Za-z0-9_./~ -]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~|[-+]?\d[\d_]*(\.\d*)?([eE][-+]?\d+)?)$/i.test(s) && !s.endsWith(" ") ? s : JSON.stringify(s);
}

function listLines(indent: string, items: string[]): string[] {
  return items.map((i) => `${indent}- ${q(i)}`);
}

export function starterConfig(o: StarterOptions): string {
  const L: string[] = [];
  const repo = o.repository;
  L.push(
    `# coffer.yaml for ${o.dir}`,
    "# Reference: docs/config.md. Check this file with: coffer config validate",
    "# Relative paths are taken from this file's folder; ~/ is your home folder.",
    "# For editor completion: coffer config schema > coffer.schema.json, then keep the next line.",
    "# yaml-language-server: $schema=coffer.schema.json",
    "version: 1",
    "",
    "# Where snapshots are stored. On the command line, -r NAME picks one of these by name.",
    "repositories:",
    `  ${repo.name}:`,
    `    url: ${q(repo.url)}`,
    "    # The password comes from a file (file: PATH), an environment variable (env: VAR)",
    "    # or a command (command: \"pass show coffer/app\"). coffer never prints it.",
  );
  const p = repo.password;
  if (p === undefined) L.push("    # password:", "    #   file: ~/.config/coffer/app.password");
  else {
    L.push("    password:");
    if ("env" in p) L.push(`      env: ${q(p.env)}`);
    else if ("file" in p) L.push(`      file: ${q(p.file)}`);
    else if ("command" in p) L.push(`      command: ${q(p.command)}`);
    else L.push(`      value: ${q(p.value)}   # plain text: prefer env, file or command`);
  }
  L.push(repo.offsite ? "    offsite: true" : "    # offsite: true     # a copy kept elsewhere (counts for the 3-2-1 rule)", "");

  L.push("# What to back up. Each source becomes one snapshot per run: coffer backup --source NAME", "sources:", `  ${o.name}:`);
  if (o.databases.length > 0) {
    L.push(
      "    # Live SQLite databases are copied with SQLite's online backup API, so the copy is",
      "    # consistent even while the application writes (WAL included); the other files are",
      "    # read in place, all into one snapshot.",
      "    kind: sqlite",
      "    databases:",
      ...listLines("      ", o.databases),
    );
  }
  L.push("    paths:", ...listLines("      ", o.paths));
  if (o.excludes.length > 0) L.push("    exclude:", ...listLines("      ", o.excludes));
  else L.push('    # exclude: [node_modules, "*.tmp"]');
  if (o.ignoreFiles.length > 0) L.push(`    ignore-file: [${o.ignoreFiles.map(q).join(", ")}]`);
  else L.push("    # ignore-file: [.gitignore]   # honour these ignore files in every folder");
  L.push(o.excludeCaches ? "    exclude-caches: true" : "    # exclude-caches: true");
  if (o.databases.length === 0) {
    L.push("", "  # A live SQLite database, copied consistently while it is written:", "  # app-db:", "  #   kind: sqlite", "  #   databases: [data/app.db]");
  }
  L.push("", "  # A command's output (a database dump), stored as a file in the snapshot:", "  # postgres:", "  #   kind: command", '  #   command: "pg_dump --format=custom mydb"', "  #   filename: mydb.dump", "");

  const pol = o.policy;
  L.push("# How long snapshots are kept: keep rules (any keeps), then limits (whichever is stricter).", "policies:", "  default:");
  if (pol.daily !== undefined) L.push(`    daily: ${pol.daily}`);
  if (pol.weekly !== undefined) L.push(`    weekly: ${pol.weekly}`);
  if (pol.monthly !== undefined) L.push(`    monthly: ${pol.monthly}`);
  if (pol.maxAge !== undefined) L.push(`    max-age: ${pol.maxAge}`);
  if (pol.maxCount !== undefined) L.push(`    max-count: ${pol.maxCount}`);
  L.push("");

  L.push(
    "# What coffer daemon runs, and when: every DURATION (when the last success is older; after",
    '# downtime it runs once), at: "HH:MM", or cron: "M H * * *" with time-zone.',
    "jobs:",
  );
  L.push("  backup:", "    what: backup", `    source: ${o.name}`, `    every: ${o.every}`);
  if (o.at !== undefined) L.push(`    at: ${JSON.stringify(o.at)}`);
  L.push("    policy: default     # forget old snapshots after each backup");
  L.push(
    "  prune:",
    "    what: prune         # free the space of forgotten snapshots",
    "    every: 7d",
    "  check:",
    "    what: check",
    "    every: 7d",
    "    read-data-subset: 10%   # re-read a tenth of the data each week",
    "",
  );

  const logs = o.logs.length > 0 ? o.logs : ["logs/*.log"];
  L.push(
    `# Log rotation (coffer rotate, or a rotate job)${o.logs.length > 0 ? "; these logs were found" : ""}. The defaults: daily or`,
    "# at 5 MB; 7 copies in backups/, then 7 more in archive/, gzipped after 7 days, deleted after 30.",
    "# rotate:",
    "#   logs:",
    `#     files: [${logs.map(q).join(", ")}]`,
    "# and under jobs:",
    "#   rotate-logs:",
    "#     what: rotate",
    '#     at: "02:00"',
    "",
  );
  L.push(
    "# Old records out of JSON/NDJSON files (a records job):",
    "# records:",
    "#   messages:",
    "#     files: [data/messages.json]",
    "#     time-field: timestamp",
    "#     older-than: 365d",
    "",
    "# Failures and recoveries of jobs:",
    "# notify:",
    "#   webhook: https://example.com/hooks/coffer",
    "#   command: /usr/local/bin/notify-me",
    "",
    "# Thresholds of coffer health (defaults shown):",
    "# health:",
    "#   port: 9312",
    "#   late-factor: 1.5",
    "#   min-free-space: 1G",
  );
  return L.join("\n") + "\n";
}
