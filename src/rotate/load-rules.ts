import { readFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";
import { CofferError, ioError } from "../core/errors.js";
import type { RotateRule } from "./rule.js";

/**
 * Reads rotation rules from a small JSON file: `{"rotate": [{"files": ["logs/*.log"], "keep": 7}]}`.
 * Keys may be camelCase or kebab-case (`backups-dir`), as coffer.yaml will write them; relative
 * file and pid-file paths are taken from the file's directory. Until coffer.yaml's loader exists
 * (it will fold this in), only JSON is read: the `yaml` package is not a dependency yet.
 */
export async function loadRules(file: string): Promise<RotateRule[]> {
  if ([".yaml", ".yml"].includes(extname(file).toLowerCase())) {
    throw new CofferError("UNSUPPORTED", `${file}: YAML rule files are not read yet; write the rules as JSON ({"rotate": [...]}) or use --from-logrotate.`, { file });
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw ioError(err, `reading the rules file ${file}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CofferError("INVALID", `${file} is not valid JSON: ${(err as Error).message}.`, { file });
  }
  return rulesFromDocument(doc, dirname(resolve(file)), file);
}

const KEYS = new Set([
  "name", "files", "size", "interval", "timeZone", "maxSize", "minSize", "minAge", "minAgeFrom", "naming", "dateFormat", "nameDate",
  "backupsDir", "keep", "archiveDir", "compress", "compressLevel", "compressAfter", "delayCompress", "archiveMaxAge", "archiveKeep", "mode",
  "createMode", "createOwner", "createGroup", "missingOk", "ifEmpty", "notIfEmpty", "postRotate", "sharedScripts", "signal", "maintain",
]);

export function rulesFromDocument(doc: unknown, baseDir: string, file = "rules"): RotateRule[] {
  const list = Array.isArray(doc) ? doc : isObject(doc) ? doc.rotate : undefined;
  if (!Array.isArray(list)) throw new CofferError("INVALID", `${file}: expected {"rotate": [rules…]}.`, { file });
  return list.map((entry: unknown, i) => {
    const at = `${file}: rotate[${i}]`;
    if (!isObject(entry)) throw new CofferError("INVALID", `${at} must be an object.`, { file, index: i });
    const rule: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) {
      const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (!KEYS.has(key)) throw new CofferError("INVALID", `${at}: unknown setting "${k}"; known ones are ${[...KEYS].join(", ")}.`, { file, index: i, key: k });
      rule[key] = v;
    }
    const files = rule.files;
    if (typeof files === "string") rule.files = [files];
    if (!Array.isArray(rule.files) || !rule.files.every((f) => typeof f === "string")) throw new CofferError("INVALID", `${at}: files must be a path or a list of paths.`, { file, index: i });
    rule.files = (rule.files as string[]).map((f) => (isAbsolute(f) ? f : resolve(baseDir, f)));
    if (isObject(rule.signal) && typeof rule.signal.pidFile === "string" && !isAbsolute(rule.signal.pidFile)) {
      rule.signal = { ...rule.signal, pidFile: resolve(baseDir, rule.signal.pidFile) };
    }
    rule.name ??= `${basename(file)}: rotate[${i}]`;
    return rule as unknown as RotateRule;
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
