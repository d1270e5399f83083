#!/usr/bin/env bash
# The race: kdrift against kubectl diff on the same cluster state. Loads a generated fixture
# into `kdrift sim` and times, in one run (medians of RUNS rounds in which each contender
# runs once, fresh processes):
#   kdrift diff (local mode), kdrift diff --diff-mode server,
#   kubectl diff --server-side --force-conflicts -f <manifests> with --concurrency 1 and 16,
# on RESOURCES resources (default 1000), then kdrift alone on BIG resources (default 10000)
# with its peak memory.
#
#   benches/race.sh [RESOURCES] [BIG] [RUNS] [LATENCY_MS]
#   SERVER=real benches/race.sh [RESOURCES] [BIG] [RUNS]
#
# LATENCY_MS (default 0) delays every answer of sim by that many milliseconds (sim's
# `latencyMs` fault), as a cluster across a network would; it does not apply to the real
# server. kubectl and kdrift both keep discovery in a cache of their own (warmed by a first
# run, as on an operator's machine); one more row times kdrift with an empty cache each run.
#
# With SERVER=real the cluster is a real kube-apiserver with etcd (scripts/kube-apiserver up),
# loaded with the fixture's live objects by `kubectl create` (their server-set metadata and
# status stripped), instead of sim; BIG=0 skips the big fixture.
# BASE=path/to/kdrift adds another kdrift build (an earlier commit's) as two more contenders,
# local and server mode, so that a change is measured beside what it replaces in one run.
# KUBECTL=path picks the kubectl (default: the pinned one of scripts/install-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
resources=${1:-1000}
big=${2:-10000}
runs=${3:-5}
latency=${4:-0}
server=${SERVER:-sim}
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  kubectl="$(bash scripts/install-tools --print-dir)/kubectl"
  [ -x "$kubectl" ] || kubectl=$(command -v kubectl || true)
fi
[ -n "$kubectl" ] || { echo "kubectl is needed for the race (set KUBECTL)"; exit 2; }
cargo build --profile profiling -q
bin=$PWD/target/profiling/kdrift
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ "$server" = real ] && bash scripts/kube-apiserver down "$work/real" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# kdrift's caches (discovery, rendered kustomizations) of this run only.
export XDG_CACHE_HOME=$work/kdcache

start_sim() { # fixture dir
  if [ "$server" = real ]; then start_real "$1"; return; fi
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
  "$bin" sim --kubeconfig-out "$work/kc" --load "$1/live.json" >"$work/url" 2>"$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 100); do
    if [ -s "$work/url" ]; then
      [ "$latency" -gt 0 ] || return 0
      curl -sf -X POST -H 'content-type: application/json' -d "{\"latencyMs\": $latency}" \
        "$(head -n1 "$work/url")/sim/faults" >/dev/null && return 0
      echo "could not set sim's latency"; exit 2
    fi
    sleep 0.1
  done
  echo "sim did not start"; cat "$work/sim.log"; exit 2
}

start_real() { # fixture dir: a fresh real API server holding the fixture's live objects
  bash scripts/kube-apiserver down "$work/real" 2>/dev/null || true
  bash scripts/kube-apiserver up "$work/real" >/dev/null
  cp "$work/real/kubeconfig" "$work/kc"
  python3 - "$1/live.json" "$work/load" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
items = doc["items"] if isinstance(doc, dict) and "items" in doc else doc
os, namespaced = [], []
for o in items:
    meta = o.get("metadata", {})
    for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"):
        meta.pop(k, None)
    o.pop("status", None)
    (os if o.get("kind") in ("Namespace", "CustomResourceDefinition") else namespaced).append(o)
json.dump({"apiVersion": "v1", "kind": "List", "items": os}, open(sys.argv[2] + "-1.json", "w"))
json.dump({"apiVersion": "v1", "kind": "List", "items": namespaced}, open(sys.argv[2] + "-2.json", "w"))
PY
  "$kubectl" --kubeconfig "$work/kc" create -f "$work/load-1.json" >/dev/null 2>"$work/load.err" || true
  "$kubectl" --kubeconfig "$work/kc" create -f "$work/load-2.json" >/dev/null 2>>"$work/load.err" || true
  echo "loaded into the real API server ($(grep -c . "$work/load.err" || true) objects refused, see below)" >&2
  head -3 "$work/load.err" >&2 || true
}

# time_ms CMD...: wall time of one run in ms (exit status 0 or 1 expected)
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$work/err" || { rc=$?; [ $rc -le 1 ] || { echo "failed ($rc): $*"; cat "$work/err"; exit 2; }; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$bin" fixture "$work/fx" --resources "$resources" >/dev/null 2>&1
start_sim "$work/fx"
cd "$work/fx"
kd=("$bin" diff --kubeconfig "$work/kc" --repo repo -l app.kubernetes.io/part-of=fixture)
kc=("$kubectl" --kubeconfig "$work/kc" --cache-dir "$work/kcache" diff --server-side --force-conflicts -R -f repo)
"${kc[@]}" --concurrency 16 >/dev/null 2>&1 || true   # warm kubectl's discovery cache
"${kd[@]}" >/dev/null 2>&1 || true                     # and the page cache for kdrift alike
echo "== $resources resources (fixture of kdrift fixture, in $server)" >&2
# The contenders take turns, one run each per round, so that a change in the machine's load
# during the race weighs on all of them alike.
base=${BASE:-}
kb=("$base" "${kd[@]:1}")
[ -z "$base" ] || "${kb[@]}" >/dev/null 2>&1 || true
l=(); s=(); k1=(); k16=(); bl=(); bs=(); cold=()
for i in $(seq "$runs"); do
  # A run not timed first: whoever comes right after kubectl's thousands of requests finds
  # sim still winding down from them.
  "${kd[@]}" >/dev/null 2>&1 || true
  l+=("$(time_ms "${kd[@]}")")
  cold+=("$(XDG_CACHE_HOME="$work/cold-$i" time_ms "${kd[@]}")")
  s+=("$(time_ms "${kd[@]}" --diff-mode server)")
  if [ -n "$base" ]; then
    bl+=("$(time_ms "${kb[@]}")")
    bs+=("$(time_ms "${kb[@]}" --diff-mode server)")
  fi
  k1+=("$(time_ms "${kc[@]}" --concurrency 1)")
  k16+=("$(time_ms "${kc[@]}" --concurrency 16)")
done
report() { # name values...
  local name=$1; shift
  local m; m=$(printf '%s\n' "$@" | median)
  printf '%-44s median %7d ms   (runs: %s)\n' "$name" "$m" "$*" >&2
  echo "$m"
}
local_ms=$(report "kdrift diff (local mode)" "${l[@]}")
report "kdrift diff (local mode), no discovery cache" "${cold[@]}" >/dev/null
server_ms=$(report "kdrift diff --diff-mode server" "${s[@]}")
k1_ms=$(report "kubectl diff --server-side --concurrency 1" "${k1[@]}")
k16_ms=$(report "kubectl diff --server-side --concurrency 16" "${k16[@]}")
if [ -n "$base" ]; then
  report "BASE kdrift diff (local mode)" "${bl[@]}" >/dev/null
  report "BASE kdrift diff --diff-mode server" "${bs[@]}" >/dev/null
fi
awk -v l="$local_ms" -v s="$server_ms" -v a="$k1_ms" -v b="$k16_ms" 'BEGIN {
  printf "kdrift local vs kubectl --concurrency 1:   %.1fx faster\n", a / (l > 0 ? l : 1);
  printf "kdrift server vs kubectl --concurrency 16: %.1fx faster\n", b / (s > 0 ? s : 1) }' >&2

cd "$work"
[ "$big" -gt 0 ] || exit 0
"$bin" fixture "$work/big" --resources "$big" >/dev/null 2>&1
start_sim "$work/big"
cd "$work/big"
echo "== $big resources, kdrift alone" >&2
big_runs=()
for _ in $(seq "$runs"); do big_runs+=("$(time_ms "$bin" diff --kubeconfig "$work/kc" --repo repo -l app.kubernetes.io/part-of=fixture)"); done
report "kdrift diff (local mode), first report" "${big_runs[@]}" >/dev/null
/usr/bin/time -f "%M" -o "$work/mem" "$bin" diff --kubeconfig "$work/kc" --repo repo -l app.kubernetes.io/part-of=fixture >/dev/null 2>&1 || true
echo "peak memory (max RSS) of kdrift diff at $big resources: $(( $(tail -n1 "$work/mem") / 1024 )) MB" >&2
