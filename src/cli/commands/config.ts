import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { checkConfigEnvironment } from "../../config/environment.js";
import { findConfigFile } from "../../config/find.js";
import { configError, formatIssue } from "../../config/issues.js";
import { maskedConfig, showConfigYaml } from "../../config/mask.js";
import type { CofferConfig } from "../../config/types.js";
import { CofferError, ioError, sysCode } from "../../core/errors.js";
import { defineCommand } from "../command.js";
import { loadCliConfig } from "../config-file.js";
import type { Context } from "../context.js";
import { printJson, printLine, printWarning } from "../output.js";
import { configInitCommand } from "./config-init.js";

const validateCommand = defineCommand({
  name: "validate",
  summary: "check a configuration and explain every problem",
  description:
    "Check coffer.yaml (the file given, else the one --config names, else ./coffer.yaml or $XDG_CONFIG_HOME/coffer/coffer.yaml). " +
    "Every problem is listed with its line, the setting's path, what was expected and a hint; the exit code is 1 when there is one. " +
    "Things a run will need but that may come later (password files, environment variables, repositories not created yet, " +
    "missing paths) are warnings.",
  examples: ["coffer config validate", "coffer config validate /etc/coffer/coffer.yaml", "coffer config validate --json"],
  arguments: [{ name: "[file]", description: "the configuration to check" }],
  async run(ctx, args) {
    const file = configPath(ctx, args[0]);
    const text = await readConfigText(file);
    // The YAML parser and the schema load with the command that needs them (see config-file.ts).
    const { checkConfigText, locateIssues } = await import("../../config/load.js");
    const { config, issues } = checkConfigText(text, { file, env: ctx.env });
    const warnings = config !== undefined && issues.length === 0 ? locateIssues(text, checkConfigEnvironment(config, ctx.env)) : [];
    if (ctx.options.json) {
      printJson(ctx, { file, valid: issues.length === 0, issues, warnings });
      return issues.length === 0 ? undefined : 1;
    }
    if (issues.length > 0 || config === undefined) throw configError(issues, file);
    for (const w of warnings) printWarning(ctx, formatIssue(w, file));
    printLine(ctx, `${file} is valid: ${summary(config)}`);
  },
});

const showCommand = defineCommand({
  name: "show",
  summary: "print the configuration as coffer reads it, secrets masked",
  description:
    "Print the configuration with every default filled in and every path absolute, as YAML (or JSON with --json). " +
    "Passwords written in the file, webhook headers and passwords in URLs are masked; a password's source is named, never its value.",
  examples: ["coffer config show", "coffer --config /etc/coffer/coffer.yaml config show --json"],
  async run(ctx) {
    const config = await loadCliConfig(ctx);
    if (ctx.options.json) printJson(ctx, maskedConfig(config));
    else ctx.stdout.write(`# ${config.file ?? "configuration"}, resolved (defaults filled in, secrets masked)\n${await showConfigYaml(config)}`);
  },
});

const schemaCommand = defineCommand({
  name: "schema",
  summary: "print the JSON Schema of coffer.yaml, for editors",
  description:
    "Print the JSON Schema (draft 2020-12) of coffer.yaml. Save it next to the configuration and point your editor at it: YAML " +
    "language servers read a first line \"# yaml-language-server: $schema=coffer.schema.json\".",
  examples: ["coffer config schema > coffer.schema.json"],
  async run(ctx) {
    const { configJsonSchema } = await import("../../config/json-schema.js");
    ctx.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + "\n");
  },
});

export const configCommand = defineCommand({
  name: "config",
  summary: "write, check and show coffer.yaml",
  description:
    "coffer.yaml holds repositories, sources, retention policies, scheduled jobs, log rotation, record archiving, notifications " +
    "and health thresholds (docs/config.md). It is found in the current folder, then in $XDG_CONFIG_HOME/coffer/; --config names another.",
  examples: ["coffer config init", "coffer config validate", "coffer config show", "coffer config schema > coffer.schema.json"],
  subcommands: [configInitCommand, validateCommand, showCommand, schemaCommand],
});

function configPath(ctx: Context, arg: string | undefined): string {
  if (arg !== undefined) return resolve(arg);
  const found = findConfigFile({ ...(ctx.options.config !== undefined ? { file: ctx.options.config } : {}), env: ctx.env });
  if (found === undefined) throw new CofferError("NOT_FOUND", 'No coffer.yaml here or in $XDG_CONFIG_HOME/coffer/; name the file to check, or write one with "coffer config init".');
  return found;
}

async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("NOT_FOUND", `The configuration file ${file} does not exist.`, { file });
    throw ioError(err, `reading ${file}`);
  }
}

function summary(c: CofferConfig): string {
  const n = (count: number, one: string, many = `${one}s`): string => `${count} ${count === 1 ? one : many}`;
  return [
    n(Object.keys(c.repositories).length, "repository", "repositories"),
    n(Object.keys(c.sources).length, "source"),
    n(Object.keys(c.policies).length, "policy", "policies"),
    n(Object.keys(c.jobs).length, "job"),
    n(c.rotate.length, "rotate rule"),
    n(Object.keys(c.records).length, "records entry", "records entries"),
  ].join(", ");
}
