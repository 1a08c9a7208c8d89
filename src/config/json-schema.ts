import { z } from "zod";
import { configSchema } from "./schema.js";

/** Where editors can be pointed at the schema (`coffer config schema > coffer.schema.json` is the offline way). */
export const CONFIG_SCHEMA_ID = "https://coffer.dev/schema/coffer-1.json";

/**
 * The JSON Schema (draft 2020-12) of coffer.yaml, for editors: YAML language servers read it
 * from a `# yaml-language-server: $schema=coffer.schema.json` comment. It describes the file as
 * written; checks that need more than a shape (durations, cron expressions, names that must
 * exist) are made by `coffer config validate`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, $id: CONFIG_SCHEMA_ID };
}
