import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ADDON = join("build", "Release", "coffer_native.node");

let loaded: Record<string, unknown> | null | undefined;

/**
 * The optional native addon (native/*.c, built by node-gyp into build/Release/coffer_native.node),
 * loaded once from the package root (found by walking up from this file, which may sit in
 * src/, dist/src/ or another build directory), or undefined. COFFER_NATIVE=0 disables it, so
 * the fallbacks can be tested. Each layer types the functions it uses (snapshot/native.ts,
 * crypto/aead.ts).
 */
export function loadAddon(): Record<string, unknown> | undefined {
  if (process.env.COFFER_NATIVE === "0") return undefined;
  if (loaded === undefined) loaded = find();
  return loaded ?? undefined;
}

function find(): Record<string, unknown> | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) {
      try {
        return createRequire(import.meta.url)(candidate) as Record<string, unknown>;
      } catch {
        return null; // built for another Node ABI or platform
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}
