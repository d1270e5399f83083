#!/usr/bin/env bash
# The fleet at scale: TARGETS clusters (default 20) of RESOURCES resources each (default
# 1000), each a `kdrift sim` loaded with the same generated fixture, one kubeconfig naming
# them all. Times `kdrift diff` over every target (`--target tN=simN`, each on its own
# thread) with its peak memory, beside one target alone in the same run (the baseline), as
# medians of RUNS rounds (default 5), fresh processes; then the explorer's fleet matrix in
# tmux at 200x60 (the time until every target's column shows a verdict for every row, and
# the explorer's resident memory then), RUNS times; then stops one sim and checks that only
# its section changes.
#
#   benches/fleet.sh [TARGETS] [RESOURCES] [RUNS]
#
# BASE=path/to/kdrift runs an earlier build the same way, alternating with this one, for a
# baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-20}
resources=${2:-1000}
runs=${3:-5}
cargo build --profile profiling -q
bin=${BIN:-$PWD/target/profiling/kdrift}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$work/kdcache XDG_STATE_HOME=$work/state
"$bin" fixture "$work/fx" --resources "$resources" >/dev/null 2>&1
for i in $(seq "$targets"); do
  "$bin" sim --kubeconfig-out "$work/kc$i" --load "$work/fx/live.json" >"$work/url$i" 2>"$work/sim$i.log" &
  pids+=($!)
done
for i in $(seq "$targets"); do
  for _ in $(seq 200); do [ -s "$work/url$i" ] && break; sleep 0.05; done
  [ -s "$work/url$i" ] || { echo "sim $i did not start"; cat "$work/sim$i.log"; exit 2; }
done
# One kubeconfig: context, cluster and user simN for each.
python3 - "$work" "$targets" <<'PY'
import sys, yaml
work, n = sys.argv[1], int(sys.argv[2])
out = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": [], "current-context": "sim1"}
for i in range(1, n + 1):
    kc = yaml.safe_load(open(f"{work}/kc{i}"))
    name = f"sim{i}"
    c = kc["clusters"][0]; c["name"] = name
    x = kc["contexts"][0]; x["name"] = name; x["context"]["cluster"] = name; x["context"]["user"] = name
    u = kc["users"][0]; u["name"] = name
    out["clusters"].append(c); out["contexts"].append(x); out["users"].append(u)
yaml.safe_dump(out, open(f"{work}/kubeconfig", "w"))
PY
all=()
for i in $(seq "$targets"); do all+=(--target "t$i=sim$i"); done
common=(--repo "$work/fx/repo" --kubeconfig "$work/kubeconfig" -l app.kubernetes.io/part-of=fixture diff --no-pager)
builds=(new)
[ -n "${BASE:-}" ] && builds+=(base)
bin_of() { if [ "$1" = base ]; then echo "$BASE"; else echo "$bin"; fi; }
measure() { # build, label, args...
  local b=$1 label=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$(bin_of "$b")" "${common[@]}" "$@" >"$work/out" 2>"$work/err" || true
  read -r secs kb < <(tail -n1 "$work/time")
  echo "$b-$label $secs $kb" >>"$work/results"
}
measure new warm --target t1=sim1   # discovery caches warmed
for r in $(seq "$runs"); do
  for b in "${builds[@]}"; do
    measure "$b" one --target t1=sim1
    measure "$b" fleet "${all[@]}"
  done
done
grep -q "fleet: $targets targets" "$work/out" || { echo "the fleet report is incomplete:"; tail -30 "$work/out"; exit 2; }
python3 - "$work/results" "$targets" "$resources" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    label, secs, kb = line.split()
    if not label.endswith("warm"):
        rows.setdefault(label, []).append((float(secs), int(kb)))
print(f"{sys.argv[2]} targets of {sys.argv[3]} resources (kdrift sim each), medians of {len(rows['new-fleet'])}:")
for build in ("new", "base"):
    for label, what in (("one", "one target alone"), ("fleet", f"all {sys.argv[2]} targets")):
        v = rows.get(f"{build}-{label}")
        if v:
            print(f"  {build:<4} {what:<22} {statistics.median(s for s, _ in v) * 1000:7.0f} ms   peak RSS {statistics.median(k for _, k in v) / 1024:6.0f} MB")
PY
# The explorer's matrix: until no cell waits for a verdict (░) and rows show.
if command -v tmux >/dev/null; then
  for r in $(seq "$runs"); do for b in "${builds[@]}"; do
    sock="kdrift-fleet-bench-$$-$r-$b"
    tmux -L "$sock" -f /dev/null new-session -d -s b -x 200 -y 60 \
      "$(bin_of "$b") --repo $work/fx/repo --kubeconfig $work/kubeconfig -l app.kubernetes.io/part-of=fixture ${all[*]}"
    start=$(date +%s%N)
    shown=
    for _ in $(seq 600); do
      screen=$(tmux -L "$sock" capture-pane -p -t b 2>/dev/null || true)
      if echo "$screen" | grep -q "fleet · $targets targets" && ! echo "$screen" | grep -q "░" \
        && ! echo "$screen" | grep -q "waiting for" && echo "$screen" | sed -n 3p | grep -q "[✓≠∅+]"; then
        shown=$(( ($(date +%s%N) - start) / 1000000 ))
        break
      fi
      sleep 0.02
    done
    pid=$(pgrep -n -f "$work/kubeconfig -l" || true)
    rss=$( [ -n "$pid" ] && awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo "?")
    echo "$b ${shown:-timeout} ${rss}" >>"$work/matrix"
    tmux -L "$sock" kill-server 2>/dev/null || true
  done; done
  python3 - "$work/matrix" "$targets" <<'PY'
import sys, statistics
runs = {}
for line in open(sys.argv[1]):
    b, t, m = line.split()
    times, rss = runs.setdefault(b, ([], []))
    if t != "timeout": times.append(int(t))
    if m.isdigit(): rss.append(int(m))
for b, (times, rss) in runs.items():
    print(f"  {b:<4} explorer: first complete matrix of {sys.argv[2]} targets  median {statistics.median(times) if times else 'timeout'} ms   resident {statistics.median(rss) if rss else '?'} MB   (n={len(times)})")
PY
fi
# One cluster down: its section says so; the others are what they were.
grep -A2 "=== target t2 " "$work/out" | head -3 >"$work/before-t2"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$bin" "${common[@]}" "${all[@]}" --request-timeout 3s >"$work/down" 2>/dev/null || true
grep -A1 "=== target t1 " "$work/down" | grep -q "error:" && echo "  sim1 down: t1's section says error" || { echo "  sim1 down: t1's section does not say so"; exit 2; }
grep -A2 "=== target t2 " "$work/down" | head -3 | diff -q - "$work/before-t2" >/dev/null && echo "  sim1 down: t2's section is unchanged" || { echo "  sim1 down: t2 changed"; exit 2; }
