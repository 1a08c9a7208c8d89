import { z } from "zod";
import { configSchema } from "./schema.js";

/**
 * The JSON Schema (draft 2020-12) of coffer.yaml, for editors: YAML language servers read it
 * from a `# yaml-language-server: $schema=coffer.schema.json` comment. It describes the file as
 * written; checks that need more than a shape (durations, cron expressions, names that must
 * exist) are made by `coffer config validate`.
 */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
