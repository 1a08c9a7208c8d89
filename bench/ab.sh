#!/usr/bin/env bash
# One backup step of two builds, alternating, on the same data: wall time, CPU time and peak
# memory of each run (GNU time). The figures in docs/performance.md that compare a change with
# the build before it come from runs like these; alternate, since a shared machine's speed
# drifts within minutes.
#
#   bash bench/ab.sh REV STEP DATA [ROUNDS=3]
#     REV    the other build (a commit); this checkout is the new one (run `npm run build` first)
#     STEP   initial | changed | check | restore
#     DATA   the scale-1 dataset's directory holding s0 and s1 (bench/run.sh makes them, e.g.
#            .bench/data-1)
#
# initial: a fresh repository, then `backup` of a copy of s0.  changed: a repository holding a
# backup of s0, copied afresh for each run, then `backup` after s1 is synced over the copy.
# check: `check --read-data` of a repository holding s0. restore: `restore latest` of that
# repository into an empty directory under $AB_TARGET (default: the work directory; /dev/shm
# leaves the file system's inode allocation out, docs/performance.md). Needs git, rsync, GNU
# time.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:?REV}; step=${2:?STEP}; data=$(realpath "${3:?DATA}"); rounds=${4:-3}
case $step in initial | changed | check | restore) ;; *) echo "ab.sh: STEP is initial, changed, check or restore" >&2; exit 2 ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-ab.XXXXXX")
out=$(mktemp -d "${AB_TARGET:-$work}/coffer-ab-out.XXXXXX")
trap 'git -C "$here" worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work" "$out"' EXIT
git -C "$here" worktree add -q --detach "$work/old" "$rev"
ln -s "$here/node_modules" "$work/old/node_modules"
cp -r "$here/build" "$work/old/build" # the native addon: the old build's calls are a subset
(cd "$work/old" && npx tsc -p tsconfig.json && node scripts/bundle.mjs) >/dev/null
export COFFER_PASSWORD=ab XDG_CACHE_HOME=$work/cache
cp -a "$data/s0" "$work/live"
for b in old new; do
  bin=$here/bin/coffer.js; [ $b = old ] && bin=$work/old/bin/coffer.js
  if [ "$step" != initial ]; then
    node "$bin" init --repo "$work/base-$b" >/dev/null 2>&1
    node "$bin" backup --repo "$work/base-$b" "$work/live" >/dev/null 2>&1
  fi
done
[ "$step" = changed ] && rsync -a --delete "$data/s1/" "$work/live/"
for ((r = 1; r <= rounds; r++)); do
  for b in old new; do
    bin=$here/bin/coffer.js; [ $b = old ] && bin=$work/old/bin/coffer.js
    repo=$work/repo; rm -rf "$repo"
    case $step in
      initial) node "$bin" init --repo "$repo" >/dev/null 2>&1; cmd=(backup --repo "$repo" "$work/live") ;;
      changed) cp -a "$work/base-$b" "$repo"; cmd=(backup --repo "$repo" "$work/live") ;;
      check) repo=$work/base-$b; cmd=(check --read-data --repo "$repo") ;;
      restore) rm -rf "$out/t"; cmd=(restore latest --repo "$work/base-$b" --target "$out/t") ;;
    esac
    sync
    label="$rev"; [ $b = new ] && label="this checkout"
    /usr/bin/time -f "$b ($label) $step: %e s wall, %U s user, %S s sys, %M KB peak" node "$bin" "${cmd[@]}" 2>&1 >/dev/null | tail -1
  done
done
