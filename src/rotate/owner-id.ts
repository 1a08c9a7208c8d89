import { readFileSync } from "node:fs";
import { CofferError } from "../core/errors.js";

/**
 * A user or group given by name or number, as a numeric id. Names are looked up in /etc/passwd
 * and /etc/group (what logrotate's `create 0640 www-data adm` names); an unknown name is an
 * error, because guessing an owner for a log file is worse than refusing.
 */
export function ownerId(value: string | number, kind: "user" | "group", file = kind === "user" ? "/etc/passwd" : "/etc/group"): number {
  if (typeof value === "number" || /^\d+$/.test(value)) return Number(value);
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // no such file: the name cannot be known
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === value && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  throw new CofferError("INVALID", `There is no ${kind} named "${value}" in ${file}; give a name that exists or a number.`, { [kind]: value });
}
