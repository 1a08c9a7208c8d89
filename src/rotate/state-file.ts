import { basename, dirname } from "node:path";
import { ioError, sysCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import { fsyncDir, tempPath, type RotateFs } from "./rotate-fs.js";

/**
 * The rotation state file: when each log (by absolute path) was last rotated. Format, JSON:
 * `{"version":1,"files":{"/var/log/app.log":{"lastRotation":"2026-11-20T00:00:03.120Z"}}}`.
 * Written whole and atomically (temporary file, fsync, rename, fsync of the directory), so a
 * crash leaves the old state or the new one. The state only saves work: a missing or corrupt
 * file is rebuilt from the rotated copies on disk, so it can never stop rotation.
 */
export type RotateState = Map<string, Date>;

export async function loadState(fs: RotateFs, file: string, onWarning: WarningSink, opts: { keepAside?: boolean } = {}): Promise<RotateState> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") return new Map();
    throw ioError(err, `reading the rotation state ${file}`);
  }
  const state = parseState(text);
  if (state) return state;
  const aside = `${file}.corrupt`;
  const kept = opts.keepAside !== false && (await fs.rename(file, aside).then(() => true, () => false));
  onWarning({
    code: "STATE_CORRUPT",
    path: file,
    message: `The rotation state ${file} is not valid${kept ? ` (kept as ${basename(aside)})` : ""}; the last rotations are rebuilt from the rotated files on disk.`,
  });
  return new Map();
}

function parseState(text: string): RotateState | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || (doc as { version?: unknown }).version !== 1) return undefined;
  const files = (doc as { files?: unknown }).files;
  if (typeof files !== "object" || files === null || Array.isArray(files)) return undefined;
  const state: RotateState = new Map();
  for (const [path, entry] of Object.entries(files as Record<string, unknown>)) {
    const last = typeof entry === "object" && entry !== null ? (entry as { lastRotation?: unknown }).lastRotation : undefined;
    const t = typeof last === "string" ? new Date(last) : undefined;
    if (t === undefined || Number.isNaN(t.getTime())) return undefined;
    state.set(path, t);
  }
  return state;
}

export async function saveState(fs: RotateFs, file: string, state: RotateState): Promise<void> {
  const files: Record<string, { lastRotation: string }> = {};
  for (const [path, t] of [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) files[path] = { lastRotation: t.toISOString() };
  const dir = dirname(file);
  const tmp = tempPath(dir, basename(file));
  try {
    await fs.mkdir(dir, { recursive: true });
    const fh = await fs.open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(JSON.stringify({ version: 1, files }, null, 1) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
    await fsyncDir(fs, dir);
  } catch (err) {
    await fs.unlink(tmp).catch(() => {});
    throw ioError(err, `writing the rotation state ${file}`);
  }
}
