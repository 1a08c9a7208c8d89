#!/usr/bin/env bash
# coffer against restic with both repositories in one S3 server (Ceph's RADOS Gateway on
# loopback), in one run on this machine: init, initial backup, unchanged backup, restore.
#
#   npm run bench:s3                         # scale 1: starts Ceph, runs each step with restic then coffer, stops Ceph
#   BENCH_SCALE=0.25 npm run bench:s3        # a smaller generated dataset
#   BENCH_DATA=/some/tree npm run bench:s3   # back up this tree instead of a generated one
#   BENCH_TOOLS=coffer npm run bench:s3      # one tool only (no ratios)
#   S3_ENDPOINT=http://127.0.0.1:7480 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... npm run bench:s3
#                                            # use a running S3 server (left running afterwards)
#
# Other settings: BENCH_DIR (datasets, work dirs; default .bench/), S3_BENCH_DIR (Ceph's data,
# default $BENCH_DIR/s3-ceph), MEMSTORE_MB (Ceph's in-memory store; default 4096: it must hold
# both repositories), COFFER (the coffer command; default node bin/coffer.js).
#
# Needs: restic, GNU time, python3 (to generate a dataset), and for its own server the Ceph
# packages and ../shared/ceph (see its README). Each run uses new buckets (restic-TIME,
# coffer-TIME), which each tool's init creates. Prints a TSV row per step (tool, step, wall s,
# max RSS MB, CPU s = user + sys), then coffer/restic ratios per step.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${COFFER_SHARED:-$here/../shared}
scale=${BENCH_SCALE:-1}
tools=${BENCH_TOOLS:-restic coffer}
dir=${BENCH_DIR:-$here/.bench}
for dep in /usr/bin/time; do command -v "$dep" >/dev/null || { echo "bench:s3: needs $dep (apt-get install time)" >&2; exit 2; }; done
case " $tools " in *" restic "*) command -v restic >/dev/null || { echo "bench:s3: needs restic (apt-get install restic)" >&2; exit 2; } ;; esac
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

# The dataset: a given tree, or state 0 of the generated one (shared with bench/run.sh).
if [ -n "${BENCH_DATA:-}" ]; then
  data=$(realpath "$BENCH_DATA")
else
  gen=$dir/data-$scale
  if [ ! -f "$gen/.complete" ]; then
    [ -f "$shared/bench/gen-dataset.py" ] || { echo "bench:s3: $shared/bench/gen-dataset.py not found; set COFFER_SHARED or BENCH_DATA" >&2; exit 2; }
    echo "bench:s3: generating the dataset at scale $scale in $gen" >&2
    rm -rf "$gen"; mkdir -p "$gen"
    python3 "$shared/bench/gen-dataset.py" "$gen/s0" --scale "$scale"
    cp -a "$gen/s0" "$gen/s1"
    python3 "$shared/bench/gen-dataset.py" "$gen/s1" --mutate 1
    touch "$gen/.complete"
  fi
  data=$gen/s0
fi

# The server: the one in the environment, or a Ceph of our own on free loopback ports.
ceph=""
stop_ceph() { if [ -n "$ceph" ]; then bash "$shared/ceph/stop-ceph-rgw.sh" "$ceph" --purge >/dev/null 2>&1 || true; ceph=""; fi; }
trap stop_ceph EXIT
trap 'exit 130' INT TERM
if [ -z "${S3_ENDPOINT:-}" ]; then
  [ -f "$shared/ceph/start-ceph-rgw.sh" ] || { echo "bench:s3: $shared/ceph/start-ceph-rgw.sh not found; set COFFER_SHARED or S3_ENDPOINT" >&2; exit 2; }
  command -v radosgw >/dev/null || { echo "bench:s3: Ceph is not installed; see $shared/ceph/README.md, or set S3_ENDPOINT" >&2; exit 2; }
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  ceph=${S3_BENCH_DIR:-$dir/s3-ceph}
  env=$dir/s3-ceph.env
  RGW_PORT=$(free_port) MON_PORT=$(free_port) MEMSTORE_MB=${MEMSTORE_MB:-4096} \
    bash "$shared/ceph/start-ceph-rgw.sh" "$ceph" >"$env" 2>"$dir/s3-ceph.log" || { cat "$dir/s3-ceph.log" >&2; exit 1; }
  set -a; . "$env"; set +a
fi
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID with S3_ENDPOINT}" "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY with S3_ENDPOINT}"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
export RESTIC_PASSWORD=bench COFFER_PASSWORD=bench
[ -n "${COFFER:-}" ] || { [ -f "$here/dist/src/cli/main.js" ] || (cd "$here" && npm run build >/dev/null); COFFER="node $here/bin/coffer.js"; }
stamp=$(date +%s)

echo "bench:s3: $(du -sm "$data" | cut -f1) MB from $data into $S3_ENDPOINT; $(restic version | cut -d' ' -f1-2); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
out=$dir/results-s3-$scale.tsv
: >"$out"
# Step by step, the tools one after the other (restic, then coffer, by default), so that the two
# runs of a step are minutes closer in time than when each tool runs its whole sequence: the
# load other processes put on a shared machine drifts less between them.
run() {  # run TOOL STEP ARGS...: one timed step of TOOL, a TSV row
  local tool=$1 step=$2; shift 2
  local work=$dir/s3-work-$tool base
  case $tool in
    restic) base=(restic) ;;
    coffer) read -ra base <<<"$COFFER" ;;
  esac
  # Each tool keeps its local cache under XDG_CACHE_HOME: a fresh one per tool and run.
  if ! XDG_CACHE_HOME=$work/cache /usr/bin/time -f '%e %M %U %S' -o "$work/time.$step" "${base[@]}" -r "s3:$S3_ENDPOINT/$tool-$stamp" "$@" >"$work/log.$step" 2>&1; then
    echo "bench:s3: $tool $step failed, see $work/log.$step" >&2; tail -5 "$work/log.$step" >&2; exit 1
  fi
  local wall rss user sys; read -r wall rss user sys <"$work/time.$step"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$step" "$wall" "$((rss / 1024))" "$(awk "BEGIN { print $user + $sys }")" | tee -a "$out"
}
for tool in $tools; do
  case $tool in restic | coffer) ;; *) echo "bench:s3: unknown tool $tool" >&2; exit 2 ;; esac
  rm -rf "$dir/s3-work-$tool"; mkdir -p "$dir/s3-work-$tool"
done
for tool in $tools; do run "$tool" init init; done
for tool in $tools; do
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true   # each reads the data from disk
  run "$tool" backup-initial backup "$data"
done
for tool in $tools; do run "$tool" backup-unchanged backup "$data"; done
# The restored trees are removed only after both restores: ext4 is slow to create inodes right
# after many were freed (docs/performance.md), which would tax whichever tool restores second.
for tool in $tools; do
  restored=$dir/s3-work-$tool/restored
  run "$tool" restore restore latest --target "$restored"
  root=$restored; [ -d "$restored$data" ] && root=$restored$data
  if diff -r "$data" "$root" >"$dir/s3-work-$tool/diff.txt" 2>&1; then note=identical; else note="DIFFERS($(wc -l <"$dir/s3-work-$tool/diff.txt") lines)"; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" restore-compare 0 0 "$note" | tee -a "$out"
done
for tool in $tools; do rm -rf "$dir/s3-work-$tool/restored"; done
stop_ceph
node "$here/bench/ratios.mjs" "$out"
