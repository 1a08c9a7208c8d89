import { shortId } from "../../core/hex.js";
import { type CacheDir, listCaches, removeOldCaches } from "../../repository/cache-dirs.js";
import { defaultCacheRoot } from "../../repository/local-cache.js";
import { defineCommand, InvalidArgumentError } from "../command.js";
import { formatBytes, formatIsoTime, formatLocalTime, renderTable } from "../format.js";
import { printJson, printLine } from "../output.js";

const DEFAULT_MAX_AGE_DAYS = 30;

export const cacheCommand = defineCommand<{ cleanup?: boolean; maxAge: number; dryRun?: boolean }>({
  name: "cache",
  summary: "list the local caches of repositories, and remove old ones",
  description:
    "Remote repositories (s3:, sftp:, rest:, rclone:) are read through a local cache of their index files, snapshots and tree packs, " +
    "and every repository, local ones too, keeps its index there as last loaded (the index cache, so that a command need not read " +
    "every index file again): one directory per repository under --cache-dir (default $XDG_CACHE_HOME/coffer, i.e. ~/.cache/coffer). This lists them with " +
    "their size and when they were last used. With --cleanup, caches not used for --max-age days (default 30) are deleted: a " +
    "cache holds only copies, so deleting one is always safe, and it is filled again when the repository is used.",
  examples: [
    "coffer cache",
    "coffer cache --cleanup                  # delete caches not used for 30 days",
    "coffer cache --cleanup --max-age 0      # delete every cache",
    "coffer cache --cleanup --dry-run --json",
  ],
  options: [
    { flags: "--cleanup", description: "delete the caches not used for --max-age days" },
    { flags: "--max-age <days>", description: "how many days unused makes a cache old", default: DEFAULT_MAX_AGE_DAYS, parse: parseDays },
    { flags: "-n, --dry-run", description: "with --cleanup: say what would be deleted, delete nothing" },
  ],
  async run(ctx, _args, opts) {
    const root = ctx.options.cacheDir ?? defaultCacheRoot(ctx.env);
    const now = ctx.clock();
    const limit = now.getTime() - opts.maxAge * 86_400_000;
    if (opts.cleanup) {
      const removed = await removeOldCaches(root, { maxAgeDays: opts.maxAge, now, dryRun: opts.dryRun === true });
      if (ctx.options.json) {
        printJson(ctx, { root, dry_run: opts.dryRun === true, removed: removed.map(toJson) });
        return;
      }
      const verb = opts.dryRun ? "would remove" : "removed";
      for (const c of removed) printLine(ctx, `${verb} the cache of repository ${shortId(c.id)} (${formatBytes(c.bytes)}, last used ${formatLocalTime(c.lastUsed)})`);
      const bytes = removed.reduce((a, c) => a + c.bytes, 0);
      printLine(ctx, removed.length === 0 ? `no cache in ${root} is older than ${opts.maxAge} days` : `${verb} ${removed.length} cache${removed.length === 1 ? "" : "s"}, ${formatBytes(bytes)}`);
      return;
    }
    const caches = await listCaches(root);
    if (ctx.options.json) {
      printJson(ctx, { root, caches: caches.map((c) => ({ ...toJson(c), old: c.lastUsed.getTime() <= limit })) });
      return;
    }
    if (caches.length === 0) {
      printLine(ctx, `no caches in ${root}`);
      return;
    }
    const rows = caches.map((c) => [shortId(c.id), formatBytes(c.bytes), String(c.files), formatLocalTime(c.lastUsed), c.lastUsed.getTime() <= limit ? "old" : ""]);
    ctx.stdout.write(
      renderTable(
        [{ header: "Repository" }, { header: "Size", align: "right" }, { header: "Files", align: "right" }, { header: "Last used" }, { header: "" }],
        rows,
      ),
    );
    const old = caches.filter((c) => c.lastUsed.getTime() <= limit).length;
    printLine(ctx, `${caches.length} cache${caches.length === 1 ? "" : "s"} in ${root}${old ? `; ${old} not used for ${opts.maxAge} days: "coffer cache --cleanup" deletes them` : ""}`);
  },
});

function toJson(c: CacheDir): Record<string, unknown> {
  return { repository: c.id, dir: c.dir, bytes: c.bytes, files: c.files, last_used: formatIsoTime(c.lastUsed) };
}

function parseDays(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("give a whole number of days, e.g. 30");
  return n;
}
