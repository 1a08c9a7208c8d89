#!/usr/bin/env bash
# coffer against restic on the shared day-in-the-life benchmark, in one run on this machine.
#
#   npm run bench                      # scale 1 (about 1 GiB), restic and coffer
#   BENCH_SCALE=0.25 npm run bench     # smaller dataset
#   BENCH_TOOLS="coffer" npm run bench # coffer only (no ratios)
#   BENCH_DIR=/big/disk npm run bench  # where datasets and repositories go (default .bench/)
#   BENCH_ROUNDS=3 npm run bench       # three rounds, the tools' order swapped each round; the
#                                      # median ratio of each step (timings swing on shared machines)
#
# Needs: restic, rsync and GNU time (apt-get install restic rsync time), python3, and
# ../shared/bench (gen-dataset.py, peer.sh) beside this checkout. Prints peer.sh's TSV rows,
# then coffer/restic ratios per step.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${COFFER_SHARED:-$here/../shared}
scale=${BENCH_SCALE:-1}
tools=${BENCH_TOOLS:-restic coffer}
dir=${BENCH_DIR:-$here/.bench}
for dep in python3 rsync /usr/bin/time; do command -v "$dep" >/dev/null || { echo "bench: needs $dep (apt-get install rsync time python3)" >&2; exit 2; }; done
case " $tools " in *" restic "*) command -v restic >/dev/null || { echo "bench: needs restic (apt-get install restic)" >&2; exit 2; } ;; esac
[ -f "$shared/bench/peer.sh" ] || { echo "bench: $shared/bench/peer.sh not found; set COFFER_SHARED" >&2; exit 2; }

mkdir -p "$dir"
data=$dir/data-$scale
if [ ! -f "$data/.complete" ]; then
  echo "bench: generating the dataset at scale $scale in $data" >&2
  rm -rf "$data"; mkdir -p "$data"
  python3 "$shared/bench/gen-dataset.py" "$data/s0" --scale "$scale"
  cp -a "$data/s0" "$data/s1"
  python3 "$shared/bench/gen-dataset.py" "$data/s1" --mutate 1
  touch "$data/.complete"
fi
[ -f "$here/dist/src/cli/main.js" ] || (cd "$here" && npm run build >/dev/null)
export COFFER="node $here/bin/coffer.js"
rounds=${BENCH_ROUNDS:-1}
case $rounds in ''|*[!0-9]*|0) echo "bench: BENCH_ROUNDS must be a whole number of rounds, at least 1" >&2; exit 2 ;; esac
outs=()
for ((round = 1; round <= rounds; round++)); do
  out=$dir/results-$scale.tsv
  [ "$rounds" -gt 1 ] && out=$dir/results-$scale.round$round.tsv
  : >"$out"
  order=$tools
  # Every other round in the reverse order: each tool's steps come after the other's cleanup
  # (a 2 GB rm -rf) as often as not.
  if (( round % 2 == 0 )); then order=$(printf '%s\n' $tools | tac | tr '\n' ' '); fi
  [ "$rounds" -gt 1 ] && echo "bench: round $round of $rounds ($order)" >&2
  for t in $order; do
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    bash "$shared/bench/peer.sh" "$t" "$data/s0" "$data/s1" "$dir/work-$t" | tee -a "$out"
  done
  outs+=("$out")
done
node "$here/bench/ratios.mjs" "${outs[@]}"
