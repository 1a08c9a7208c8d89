#!/usr/bin/env bash
# The backup steps of ../shared/bench/peer.sh (init, initial backup, unchanged backup, backup
# after rsync of the second state), each run by restic and then at once by coffer, so load
# drift on a shared machine falls less between the two. Prints wall time, user+sys CPU and max
# RSS per step and tool, then the repository sizes. On a shared machine, under the lock:
#   flock /tmp/coffer-bench.lock bash bench/backup.sh
#
#   bash bench/backup.sh [S0 S1 [WORKDIR]]     (default: .bench/data-1/s0 and s1, .bench/backup)
#   COFFER="node .build/x/coffer.mjs" bash bench/backup.sh   (another build of coffer)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
s0=$(realpath "${1:-$here/.bench/data-1/s0}") s1=$(realpath "${2:-$here/.bench/data-1/s1}")
work=${3:-$here/.bench/backup}
COFFER=${COFFER:-node $here/bin/coffer.js}
export RESTIC_PASSWORD=bench COFFER_PASSWORD=bench
rm -rf "$work"; mkdir -p "$work"
for tool in restic coffer; do cp -a "$s0" "$work/live-$tool"; done
cmd() {  # cmd TOOL STEP
  local w=$work
  case $1-$2 in
    restic-init) echo "restic -r $w/repo-restic init" ;;
    restic-*) echo "restic -r $w/repo-restic backup $w/live-restic" ;;
    coffer-init) echo "$COFFER -r $w/repo-coffer init" ;;
    coffer-*) echo "$COFFER -r $w/repo-coffer backup $w/live-coffer" ;;
  esac
}
for step in init initial unchanged changed; do
  if [ "$step" = changed ]; then for tool in restic coffer; do rsync -a --delete "$s1/" "$work/live-$tool/"; done; fi
  for tool in restic coffer; do
    /usr/bin/time -f "$tool	$step	%e s	cpu %U+%S s	rss %M KB" bash -c "$(cmd $tool $step)" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    tail -1 "$work/err"
  done
done
for tool in restic coffer; do printf '%s\trepo\t%s MB\n' "$tool" "$(du -sm "$work/repo-$tool" | cut -f1)"; done
rm -rf "$work"
