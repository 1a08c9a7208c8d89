import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { type FilterOptions, PatternList, rerootIgnoreRules } from "../../src/snapshot/filters.js";
import { type DirScope, Scanner } from "../../src/snapshot/scanner.js";

/** Creates files ("a/b": content) and directories ("a/d/": null) under root. */
async function build(root: string, spec: Record<string, string | null>): Promise<void> {
  for (const [rel, content] of Object.entries(spec)) {
    const p = join(root, rel);
    if (content === null) {
      await mkdir(p, { recursive: true });
    } else {
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, content);
    }
  }
}

/** Every path the scanner keeps, relative to root, directories with a trailing "/". */
async function walk(opts: FilterOptions, root: string, warnings: Warning[] = []): Promise<string[]> {
  const scanner = await Scanner.create(opts, (w) => warnings.push(w));
  const rootBuf = Buffer.from(root);
  const out: string[] = [];
  const rec = async (dir: Buffer, scope: DirScope, rel: string): Promise<void> => {
    const { entries, scope: sub } = await scanner.readDir(dir, scope);
    for (const e of entries) {
      const r = rel + e.name.toString("utf8");
      if (e.stat.isDirectory()) {
        out.push(`${r}/`);
        await rec(e.path, sub, `${r}/`);
      } else {
        out.push(r);
      }
    }
  };
  await rec(rootBuf, scanner.rootScope(rootBuf, await lstat(rootBuf, { bigint: true })), "");
  return out;
}

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "coffer-filters-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});
async function tree(spec: Record<string, string | null>): Promise<string> {
  const root = join(base, `t${n++}`);
  await mkdir(root);
  await build(root, spec);
  return root;
}

describe("exclude patterns", () => {
  test("a pattern without a slash matches a name at any depth, and a directory's whole subtree", async () => {
    const root = await tree({ "a.log": "", "a.txt": "", "sub/deep/b.log": "", "sub/node_modules/x/y.js": "", "node_modules/": null });
    assert.deepEqual(await walk({ excludes: ["*.log", "node_modules"] }, root), ["a.txt", "sub/", "sub/deep/"]);
  });

  test("an absolute pattern with ** matches only under that path", async () => {
    const root = await tree({ "src/gen/a": "", "src/x/y/gen/b": "", "other/gen/c": "", "src/keep": "" });
    assert.deepEqual(await walk({ excludes: [`${root}/src/**/gen`] }, root), ["other/", "other/gen/", "other/gen/c", "src/", "src/keep", "src/x/", "src/x/y/"]);
  });

  test("a relative pattern with a slash matches at any depth (restic)", async () => {
    const root = await tree({ "a/cache/x.tmp": "", "b/c/cache/y.tmp": "", "cache.tmp": "", "a/cache/z": "" });
    assert.deepEqual(await walk({ excludes: ["cache/*.tmp"] }, root), ["a/", "a/cache/", "a/cache/z", "b/", "b/c/", "b/c/cache/", "cache.tmp"]);
  });

  test("a leading ! re-includes what an earlier pattern excluded, and the last match wins", async () => {
    const root = await tree({ "a.log": "", "keep.log": "", "sub/keep.log": "", "data/keep/x": "", "data/other/y": "", "data/z": "" });
    const got = await walk({ excludes: ["*.log", "!keep.log", `${root}/data/*`, `!${root}/data/keep`] }, root);
    assert.deepEqual(got, ["data/", "data/keep/", "data/keep/x", "keep.log", "sub/", "sub/keep.log"]);
    // An exclude after the negation wins again.
    assert.deepEqual(await walk({ excludes: ["*.log", "!keep.log", "sub"] }, root).then((g) => g.filter((p) => p.endsWith(".log") || p.startsWith("sub"))), ["keep.log"]);
  });

  test("names with parentheses, brackets and a class are matched like Go's filepath.Match", () => {
    const l = PatternList.compile(["Copy (1).txt", "[^a]x", "f\\*o", "a[b-d]"], false);
    const ex = (name: string) => l.excludes(undefined, name, `r/${name}`);
    assert.equal(ex("Copy (1).txt"), true);
    assert.equal(ex("Copy 1.txt"), false);
    assert.equal(ex("bx"), true);
    assert.equal(ex("ax"), false);
    assert.equal(ex("f*o"), true);
    assert.equal(ex("fxo"), false);
    assert.equal(ex("ac"), true);
    assert.equal(ex("ae"), false);
  });

  test("a malformed pattern is refused", async () => {
    await assert.rejects(Scanner.create({ excludes: ["[abc"] }, () => {}), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  });

  test("exclude files: one pattern per line, comments and blank lines ignored; a missing file is INVALID", async () => {
    const root = await tree({ "a.log": "", "b.bak": "", "#c": "", "d.txt": "" });
    const file = join(base, `excl${n++}`);
    await writeFile(file, "# comment\n\n*.log\n  *.bak  \r\n");
    assert.deepEqual(await walk({ excludeFiles: [file] }, root), ["#c", "d.txt"]);
    await assert.rejects(Scanner.create({ excludeFiles: [join(base, "missing")] }, () => {}), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  });

  test("iexcludes match case-insensitively, excludes do not", async () => {
    const root = await tree({ "a.jpg": "", "B.Jpg": "", "c.png": "" });
    assert.deepEqual(await walk({ iexcludes: ["*.JPG"] }, root), ["c.png"]);
    assert.deepEqual(await walk({ excludes: ["*.JPG"] }, root), ["B.Jpg", "a.jpg", "c.png"]);
  });

  test("excludesRoot applies patterns (also to ancestors) and the size limit to a root", async () => {
    const root = await tree({ "big": "0123456789A", "dir/": null });
    const scanner = await Scanner.create({ excludes: ["dir"], excludeLargerThan: 10 }, () => {});
    const st = async (p: string) => lstat(p, { bigint: true });
    assert.equal(scanner.excludesRoot(Buffer.from(`${root}/dir`), await st(`${root}/dir`)), true);
    assert.equal(scanner.excludesRoot(Buffer.from(`${root}/big`), await st(`${root}/big`)), true);
    assert.equal(scanner.excludesRoot(Buffer.from(root), await st(root)), false);
  });
});

describe("ignore files", () => {
  const spec = {
    ".gitignore": "*.o\n!important.o\n/build/\ntmp/\n",
    "a.o": "",
    "important.o": "",
    "build/x": "",
    "tmp/y": "",
    "notdir/tmp": "",
    "sub/.gitignore": "!x.o\n/local\n",
    "sub/x.o": "",
    "sub/y.o": "",
    "sub/build/z": "",
    "sub/local": "",
    "sub/deeper/local": "",
    "sub/tmp/w": "",
    "other/x.o": "",
  };

  test("gitignore semantics: negation, anchoring, dir-only rules, nested files for their subtree only", async () => {
    const root = await tree(spec);
    assert.deepEqual(await walk({ ignoreFiles: [".gitignore"] }, root), [
      ".gitignore",
      "important.o",
      "notdir/",
      "notdir/tmp",
      "other/",
      "sub/",
      "sub/.gitignore",
      "sub/build/",
      "sub/build/z",
      "sub/deeper/",
      "sub/deeper/local",
      "sub/x.o",
    ]);
  });

  test("a deeper file re-includes a directory an ancestor's file excluded (git precedence)", async () => {
    const root = await tree({ "A/.cofferignore": "x/\n", "A/x/f": "", "A/B/.cofferignore": "!x/\n", "A/B/x/g": "" });
    assert.deepEqual(await walk({}, root), ["A/", "A/.cofferignore", "A/B/", "A/B/.cofferignore", "A/B/x/", "A/B/x/g"]);
  });

  test(".gitignore is not read unless asked for; .cofferignore always is", async () => {
    const root = await tree({ ...spec, "sub/.cofferignore": "y.o\n" });
    const got = await walk({}, root);
    assert.ok(got.includes("a.o") && got.includes("build/x") && got.includes("sub/x.o"));
    assert.ok(!got.includes("sub/y.o"));
  });

  test("a directory name with glob characters is escaped when rules are re-rooted", async () => {
    const root = await tree({ "d[1]*/.cofferignore": "/x\n", "d[1]*/x": "", "d[1]*/y": "", "d1a/x": "" });
    assert.deepEqual(await walk({}, root), ["d1a/", "d1a/x", "d[1]*/", "d[1]*/.cofferignore", "d[1]*/y"]);
    assert.deepEqual(rerootIgnoreRules("# c\n\n!*.o\n/a\nb/\nc/d\n", "s"), ["!s/**/*.o", "s/a", "s/**/b/", "s/c/d"]);
  });
});

describe("other filters", () => {
  test("a directory with a valid CACHEDIR.TAG keeps only the tag", async () => {
    const sig = "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n";
    const root = await tree({ "cache/CACHEDIR.TAG": sig, "cache/blob": "", "cache/d/e": "", "fake/CACHEDIR.TAG": "Signature: nope", "fake/f": "" });
    assert.deepEqual(await walk({ excludeCaches: true }, root), ["cache/", "cache/CACHEDIR.TAG", "fake/", "fake/CACHEDIR.TAG", "fake/f"]);
    assert.equal((await walk({}, root)).length, 8);
  });

  test("excludeLargerThan leaves out larger regular files only", async () => {
    const root = await tree({ "ten": "0123456789", "eleven": "0123456789A", "d/": null });
    assert.deepEqual(await walk({ excludeLargerThan: 10 }, root), ["d/", "ten"]);
    await assert.rejects(Scanner.create({ excludeLargerThan: -1 }, () => {}), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  });
});
