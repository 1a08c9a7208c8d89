#!/usr/bin/env bash
# One S3 step of two builds (or of one build under two environments), alternating, against a
# running S3 server: wall time, CPU time, peak memory and page faults of each run. The S3
# comparisons of builds in docs/performance.md come from runs like these.
#
#   S3_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
#     bash bench/s3-ab.sh REV STEP DATA [ROUNDS=3]
#     REV    the other build (a commit), or "." for this checkout on both sides
#     STEP   initial | restore
#     DATA   a directory to back up (the benchmark's s0, e.g. .bench/data-1/s0)
#   OLD_ENV / NEW_ENV: settings for one side only, e.g. OLD_ENV=COFFER_S3_RAW_GET=0 with REV=.
#
# initial: `backup` into a fresh bucket each run. restore: `restore latest` of a bucket holding
# one backup of DATA (made once per side) into an empty directory under $AB_TARGET (default
# /dev/shm, which leaves the file system's inode allocation out). Each run leaves its bucket
# (about 470 MB for the benchmark's data): an in-memory Ceph (start-ceph-rgw.sh) fills up
# after a few runs; restart it with --purge between comparisons. Needs git, GNU time, perf.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:?REV}; step=${2:?STEP}; data=$(realpath "${3:?DATA}"); rounds=${4:-3}
: "${S3_ENDPOINT:?is the S3 server URL}"
case $step in initial | restore) ;; *) echo "s3-ab.sh: STEP is initial or restore" >&2; exit 2 ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-s3ab.XXXXXX")
out=$(mktemp -d "${AB_TARGET:-/dev/shm}/coffer-s3ab-out.XXXXXX")
old=$here
trap 'if [ "$old" != "$here" ]; then git -C "$here" worktree remove --force "$old" >/dev/null 2>&1 || true; fi; rm -rf "$work" "$out"' EXIT
if [ "$rev" != . ]; then
  old=$work/old
  git -C "$here" worktree add -q --detach "$old" "$rev"
  ln -s "$here/node_modules" "$old/node_modules"
  cp -r "$here/build" "$old/build"
  (cd "$old" && npx tsc -p tsconfig.json && node scripts/bundle.mjs) >/dev/null
fi
export COFFER_PASSWORD=ab
tag=$(date +%s)-$$
bin() { if [ "$1" = old ]; then echo "$old/bin/coffer.js"; else echo "$here/bin/coffer.js"; fi; }
sideenv() { if [ "$1" = old ]; then echo "${OLD_ENV:-}"; else echo "${NEW_ENV:-}"; fi; }
if [ "$step" = restore ]; then
  for b in old new; do
    repo=s3:$S3_ENDPOINT/ab-$tag-$b
    XDG_CACHE_HOME=$work/cache-$b node "$(bin $b)" init -r "$repo" >/dev/null
    XDG_CACHE_HOME=$work/cache-$b node "$(bin $b)" backup -r "$repo" "$data" >/dev/null
  done
fi
for ((r = 1; r <= rounds; r++)); do
  for b in old new; do
    label="$rev"; [ $b = new ] && label="this checkout"
    settings=$(sideenv $b)
    case $step in
      initial)
        repo=s3:$S3_ENDPOINT/ab-$tag-$b-$r
        rm -rf "$work/cache-$b"
        XDG_CACHE_HOME=$work/cache-$b node "$(bin $b)" init -r "$repo" >/dev/null
        cmd=(backup -r "$repo" "$data") ;;
      restore)
        rm -rf "$out/t"
        cmd=(restore latest -r "s3:$S3_ENDPOINT/ab-$tag-$b" --target "$out/t") ;;
    esac
    sync
    # shellcheck disable=SC2086
    env XDG_CACHE_HOME="$work/cache-$b" $settings perf stat -e page-faults -x, -o "$work/pf" \
      /usr/bin/time -f "$b ($label${settings:+, $settings}) $step: %e s wall, %U s user, %S s sys, %M KB peak" \
      node "$(bin $b)" "${cmd[@]}" 2>&1 >/dev/null | tail -1 | tr -d '\n'
    echo ", $(grep page-faults "$work/pf" | cut -d, -f1) page faults"
  done
done
