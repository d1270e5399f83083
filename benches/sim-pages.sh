#!/usr/bin/env bash
# What a list costs `kdrift sim` itself: a generated fixture loaded into sim, then every kind
# listed across all namespaces in pages of 500 (as kdrift's watches and `kdrift diff` ask),
# with curl, RUNS times. Prints per kind the median time sim took to answer all its pages
# (curl's own timing of each answer, summed), and the
# median of one page of one object (`limit=1`, which on a server that pages from where the
# last page ended costs about nothing). BASE=path/to/kdrift measures that build's sim the
# same way after this one's, for a baseline in the same run.
#
#   benches/sim-pages.sh [RESOURCES] [RUNS] [NAMESPACES]
set -euo pipefail
cd "$(dirname "$0")/.."
resources=${1:-100000}
runs=${2:-5}
namespaces=${3:-100}
command -v curl >/dev/null || { echo "curl is needed"; exit 2; }
cargo build --profile profiling -q
bin=${BIN:-$PWD/target/profiling/kdrift}
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin" fixture "$work/fx" --resources "$resources" --namespaces "$namespaces" >/dev/null 2>&1
kinds=(/api/v1/configmaps /api/v1/secrets /api/v1/services /apis/apps/v1/deployments)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure BIN NAME: starts that build's sim on the fixture and times its lists.
measure() {
  local b=$1 name=$2 url kind cont pages
  "$b" sim --kubeconfig-out "$work/kc" --load "$work/fx/live.json" >"$work/url" 2>"$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 600); do [ -s "$work/url" ] && break; sleep 0.1; done
  url=$(head -n1 "$work/url")
  for kind in "${kinds[@]}"; do
    : >"$work/times"
    : >"$work/one"
    for _ in $(seq "$runs"); do
      cont=""; pages=0; : >"$work/each"
      while :; do
        # curl's own count of each answer's time (no process start in it).
        curl -sf -w '%{time_total}\n' "$url$kind?limit=500${cont:+&continue=$cont}" -o "$work/page" >>"$work/each"
        pages=$((pages + 1))
        # The list's metadata comes first: its continue token, if any.
        cont=$(head -c 1000 "$work/page" | grep -o '"continue":"[^"]*"' | head -n1 | cut -d'"' -f4 || true)
        [ -z "$cont" ] && break
      done
      awk '{ s += $1 } END { printf "%d\n", s * 1000 }' "$work/each" >>"$work/times"
      curl -sf -w '%{time_total}\n' "$url$kind?limit=1" -o /dev/null | awk '{ printf "%d\n", $1 * 1000000 }' >>"$work/one"
    done
    printf '%-6s %-28s %3d pages: all of them %5d ms (median of %d); a page of one %6d µs\n' \
      "$name" "$kind" "$pages" "$(median <"$work/times")" "$runs" "$(median <"$work/one")"
  done
  kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null || true; sim_pid=
  rm -f "$work/url"
}
echo "== sim's lists at $resources resources in $namespaces namespaces, pages of 500"
measure "$bin" kdrift
[ -n "${BASE:-}" ] && measure "$BASE" BASE
exit 0
