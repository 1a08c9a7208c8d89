/**
 * The configuration as `coffer config show` prints it: resolved (defaults filled in, paths
 * absolute), with every secret replaced by a mask: passwords written in the file, webhook
 * headers, passwords inside URLs, and environment values whose name suggests a secret.
 */
import { describePasswordSource } from "./password.js";
import type { CofferConfig } from "./types.js";

export const MASK = "********";

const SECRET_NAME = /pass|secret|token|key|auth|credential|cookie/i;

export function maskedConfig(config: CofferConfig): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  const repositories = copy.repositories as Record<string, Record<string, unknown>>;
  for (const r of Object.values(repositories)) {
    r.url = maskUrl(String(r.url));
    const p = r.password as Record<string, string> | undefined;
    if (p !== undefined && "value" in p) p.value = MASK;
    r.passwordFrom = describePasswordSource(config.repositories[String(r.name)]?.password);
  }
  for (const s of Object.values(copy.sources as Record<string, Record<string, unknown>>)) maskEnv(s);
  for (const j of Object.values(copy.jobs as Record<string, Record<string, unknown>>)) maskEnv(j);
  const notify = copy.notify as { webhooks: { url: string; headers: Record<string, string> }[] };
  for (const w of notify.webhooks) {
    w.url = maskUrl(w.url);
    for (const k of Object.keys(w.headers)) w.headers[k] = MASK;
  }
  return copy;
}

function maskEnv(o: Record<string, unknown>): void {
  const env = o.env as Record<string, string> | undefined;
  if (env === undefined) return;
  for (const k of Object.keys(env)) if (SECRET_NAME.test(k)) env[k] = MASK;
}

/** `https://user:secret@host/x` → `https://user:********@host/x`; query values of secret-looking names too. */
export function maskUrl(url: string): string {
  const masked = url.replace(/^([a-z][a-z0-9+.-]*:(?:[a-z][a-z0-9+.-]*:)?\/\/[^/:@]*):[^@/]*@/i, `$1:${MASK}@`);
  return masked.replace(/([?&]([^=&]+)=)([^&]*)/g, (m, lead: string, name: string) => (SECRET_NAME.test(name) ? `${lead}${MASK}` : m));
}

/** Names of things (repositories, jobs, environment variables, headers) keep their spelling; settings are shown kebab-case as in the file. */
const NAMED = new Set(["repositories", "sources", "policies", "jobs", "records", "env", "headers"]);

function kebabKeys(v: unknown, namesHere = false): unknown {
  if (Array.isArray(v)) return v.map((x) => kebabKeys(x));
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const key = namesHere ? k : k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    out[key] = kebabKeys(x, !namesHere && NAMED.has(k));
  }
  return out;
}

/** The masked configuration as YAML, settings kebab-case. */
export async function showConfigYaml(config: CofferConfig): Promise<string> {
  const { stringify } = await import("yaml");
  return stringify(kebabKeys(maskedConfig(config)), { lineWidth: 0 });
}
