#!/usr/bin/env bash
# coffer `check` against restic `check` on the repositories a bench run left (issue 2: check
# --read-data <= 0.6 x restic's time), in rounds: each round runs every coffer build given, then
# restic, back to back under the shared benchmark lock, on copies of the repositories.
#
#   bash bench/check.sh                                   # 3 rounds of check --read-data, dist/
#   COFFERS="node dist/bin.mjs;node .build/x/coffer.mjs" bash bench/check.sh   # several builds
#   BENCH_ROUNDS=5 BENCH_ARGS= bash bench/check.sh        # 5 rounds of plain `check`
#   BENCH_WORK=/work/tmp-me bash bench/check.sh           # where the copies go (default .bench/check)
#
# The repositories are .bench/work-coffer/repo and .bench/work-restic/repo (from `npm run bench`
# or bench/run.sh; BENCH_COFFER_REPO / BENCH_RESTIC_REPO override them); they are copied once
# into $BENCH_WORK and never changed (check --read-data stamps the copies' snapshots).
# COFFERS is a ;-separated list of commands that run coffer (default: bin/coffer.js). Each run is
# timed with GNU time; the script prints every run (wall s, user s, sys s, max RSS KB, the load
# before it), then per command the medians and the per-round wall and CPU ratios to restic's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${BENCH_ROUNDS:-3}
ARGS=${BENCH_ARGS---read-data}
WORK=${BENCH_WORK:-.bench/check}
SRC_C=${BENCH_COFFER_REPO:-.bench/work-coffer/repo}
SRC_R=${BENCH_RESTIC_REPO:-.bench/work-restic/repo}
IFS=';' read -r -a COFFERS <<<"${COFFERS:-node bin/coffer.js}"
LOCK=${BENCH_LOCK:-/tmp/coffer-bench.lock}
for dep in /usr/bin/time restic flock python3; do
  command -v "$dep" >/dev/null || { echo "check.sh: needs $dep" >&2; exit 2; }
done
[ -d "$SRC_C" ] && [ -d "$SRC_R" ] || { echo "check.sh: no bench repositories ($SRC_C, $SRC_R); run npm run bench first" >&2; exit 2; }
mkdir -p "$WORK"
[ -d "$WORK/coffer-repo" ] || cp -a "$SRC_C" "$WORK/coffer-repo"
[ -d "$WORK/restic-repo" ] || cp -a "$SRC_R" "$WORK/restic-repo"
export COFFER_PASSWORD=bench RESTIC_PASSWORD=bench
out=$(mktemp)
trap 'rm -f "$out"' EXIT

one() { # one LABEL CMD...: a timed run, appended to $out as LABEL wall user sys rss load
  local label=$1 load
  shift
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$out.t" "$@" >"$out.log" 2>&1 || { echo "check.sh: $label failed:" >&2; tail -5 "$out.log" >&2; exit 1; }
  echo "$label $(cat "$out.t") $load" >>"$out"
}
export -f one
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!COFFERS[@]}"; do
    # shellcheck disable=SC2086
    flock "$LOCK" bash -c "out='$out'; one coffer$i ${COFFERS[$i]} -r '$WORK/coffer-repo' check $ARGS"
  done
  # shellcheck disable=SC2086
  flock "$LOCK" bash -c "out='$out'; one restic restic -r '$WORK/restic-repo' check $ARGS"
done
rm -f "$out.t" "$out.log"
echo "label wall_s user_s sys_s max_rss_kb load"
cat "$out"
python3 - "$out" "${COFFERS[@]}" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
runs = {}
for label, wall, user, sys_, rss, load in rows:
    runs.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss) // 1024))
restic = runs.get("restic", [])
for label, rs in runs.items():
    name = "restic" if label == "restic" else sys.argv[2 + int(label[6:])]
    line = f"{name}: wall {st.median(r[0] for r in rs):.2f} s, CPU {st.median(r[1] for r in rs):.2f} s, max RSS {max(r[2] for r in rs)} MB (medians of {len(rs)})"
    if label != "restic" and restic:
        w = [a[0] / b[0] for a, b in zip(rs, restic)]
        c = [a[1] / b[1] for a, b in zip(rs, restic)]
        line += f"; /restic wall {' '.join(f'{x:.2f}' for x in w)} (median {st.median(w):.2f}), CPU median {st.median(c):.2f}"
    print(line)
PY
