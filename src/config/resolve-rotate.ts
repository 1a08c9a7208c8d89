/**
 * The `rotate` section: a list of rules, or rules by name, each turned into the rotation
 * engine's `RotateRule` (camelCase keys, log paths and pid files absolute) and checked by the
 * engine itself (`resolveRule`), so what loads here is what `rotate()` accepts.
 */
import { resolveRule, type RotateRule } from "../rotate/rule.js";
import type { Resolver } from "./resolve.js";
import type { RotateRuleDocument } from "./schema-rotate.js";
import { asList } from "./schema-parts.js";

export function resolveRotate(r: Resolver, section: RotateRuleDocument[] | Record<string, RotateRuleDocument> | undefined): RotateRule[] {
  if (section === undefined) return [];
  const entries: [(string | number)[], string, RotateRuleDocument][] = Array.isArray(section)
    ? section.map((d, i) => [["rotate", i], d.name ?? `rotate[${i}]`, d])
    : Object.entries(section).map(([key, d]) => [["rotate", key], d.name ?? key, d]);
  const seen = new Map<string, string>();
  const rules: RotateRule[] = [];
  for (const [at, name, d] of entries) {
    const previous = seen.get(name);
    if (previous !== undefined) r.issue([...at, "name"], `the rule name "${name}" is used twice`, `the other is ${previous}; give each rule its own name`);
    seen.set(name, at.join("."));
    const rule: Record<string, unknown> = { name };
    for (const [k, v] of Object.entries(d)) {
      if (v === undefined || k === "name") continue;
      rule[camel(k)] = v;
    }
    rule.files = asList(d.files).map(r.path);
    if (d.signal !== undefined) rule.signal = { pidFile: r.path(d.signal["pid-file"]), ...(d.signal.signal !== undefined ? { signal: d.signal.signal } : {}) };
    const typed = rule as unknown as RotateRule;
    try {
      resolveRule(typed, rules.length);
    } catch (err) {
      // The engine's message starts with the rule's name and names the field in camelCase.
      const msg = (err as Error).message.replace(new RegExp(`^${escape(name)}: `), "");
      const field = /^([a-zA-Z]+) /.exec(msg)?.[1];
      const key = field !== undefined ? kebab(field) : undefined;
      const path = key !== undefined && key in d ? [...at, key] : at;
      r.issue(path, (key !== undefined && field !== undefined ? msg.replace(field, key) : msg).replace(/\.$/, ""));
    }
    rules.push(typed);
  }
  return rules;
}

function camel(k: string): string {
  return k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function kebab(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
