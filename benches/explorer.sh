#!/usr/bin/env bash
# The explorer at scale, as a user sees it: a generated fixture loaded into `kdrift sim`, the
# explorer started in tmux, and the screen polled (every 20 ms) until its status bar shows the
# complete and correct counts (connected, with as many synced and out-of-sync as the fixture's
# expected.json says). Then changes are written to the cluster for CHANGE_SECS seconds (one
# ConfigMap patched every 50 ms, through sim's API) and the memory read again, to see growth.
#
#   benches/explorer.sh [RESOURCES] [RUNS] [NAMESPACES]
#
# Prints per run: the time to the first correct screen, the resident memory (VmRSS) then, and
# its peak (VmHWM); after the changes, the resident memory and its peak again; and medians.
# BASE=path/to/kdrift runs an earlier build the same way in alternate runs, for a baseline in
# the same run. CHANGE_SECS (default 30; 3600 for the hour of the goal) sets the changes'
# length, of the last run only; the resident memory is sampled once a minute meanwhile,
# and the explorer's CPU time over the changes is given in percent of one core.
# BIN=path/to/kdrift runs that build instead of this checkout's. WARM=1 first runs each build
# once, untimed, until its parse cache of the repository is on disk (the explorer writes it
# ten seconds after a load), so that every timed run is a later start on the same repository;
# without it the first run of each build is its first start. Each build has a cache folder of
# its own (a parse cache names the build that wrote it: one folder shared by two builds would
# have each start find the other's). Needs tmux and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
resources=${1:-10000}
runs=${2:-3}
namespaces=${3:-}
change_secs=${CHANGE_SECS:-30}
command -v tmux >/dev/null || { echo "tmux is needed"; exit 2; }
cargo build --profile profiling -q
bin=${BIN:-$PWD/target/profiling/kdrift}
work=$(mktemp -d)
sim_pid=
session=kdrift-bench-$$
# A tmux server of its own: a server another run started would give the explorer that run's
# environment (its cache, state and log folders).
tmux() { command tmux -L "$session" "$@"; }
cleanup() {
  tmux kill-server 2>/dev/null || true
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then rm -rf /tmp/bench-work; cp -r "$work" /tmp/bench-work; fi; rm -rf "$work"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$work/cache XDG_STATE_HOME=$work/state HOME=$work

"$bin" fixture "$work/fx" --resources "$resources" ${namespaces:+--namespaces "$namespaces"} >/dev/null 2>&1
read -r want_synced want_oos want_missing < <(python3 - "$work/fx/expected.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
print(*(sum(v["status"] == s for v in e.values()) for s in ("synced", "out-of-sync", "missing")))
PY
)
KDRIFT_SIM_LOG=${SIM_LOG:-} "$bin" sim --kubeconfig-out "$work/kc" --load "$work/fx/live.json" >"$work/url" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 300); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n1 "$work/url")
echo "== explorer at $resources resources: want ✓$want_synced ≠$want_oos on screen" >&2

# cache_of BIN: that build's cache folder.
cache_of() { if [ "$1" = "${BASE:-}" ]; then echo "$work/cache-base"; else echo "$work/cache-new"; fi; }

# one_run BIN CHANGE: prints "first_ms rss_mb hwm_mb [rss_after hwm_after]"
one_run() {
  local bin=$1 change=$2 t0 now pid out=""
  tmux kill-session -t "$session" 2>/dev/null || true
  t0=$(date +%s%N)
  tmux new-session -d -s "$session" -x 200 -y 50 \
    "cd $work/fx && XDG_CACHE_HOME=$(cache_of "$bin") exec $bin --kubeconfig $work/kc --repo repo -l app.kubernetes.io/part-of=fixture"
  pid=$(tmux display -p -t "$session" '#{pane_pid}')
  while :; do
    now=$(date +%s%N)
    if tmux capture-pane -p -t "$session" | grep -q "live .*✓$want_synced ≠$want_oos "; then
      break
    fi
    if [ $(( (now - t0) / 1000000 )) -gt 120000 ]; then
      echo "no correct screen after 120 s:" >&2; tmux capture-pane -p -t "$session" >&2; exit 2
    fi
    sleep 0.02
  done
  local first=$(( (now - t0) / 1000000 ))
  rss() { awk '/^VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
  hwm() { awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status"; }
  out="$first $(rss) $(hwm)"
  # A new commit at HEAD (one more ConfigMap, missing in the cluster): the time until the
  # screen counts it; then HEAD goes back for the next run.
  if [ "${COMMIT:-1}" = 1 ]; then
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-commit\n  namespace: team-000\n  labels:\n    app.kubernetes.io/part-of: fixture\ndata:\n  a: "1"\n' \
      >"$work/fx/repo/team-000/bench-commit.yaml"
    git -C "$work/fx/repo" add team-000/bench-commit.yaml
    GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@b \
      git -C "$work/fx/repo" commit -qm "bench: one more ConfigMap"
    local c0 c1
    c0=$(date +%s%N)
    while :; do
      c1=$(date +%s%N)
      if tmux capture-pane -p -t "$session" | grep -q "∅$((want_missing + 1)) "; then break; fi
      if [ $(( (c1 - c0) / 1000000 )) -gt 30000 ]; then echo "the commit did not reach the screen in 30 s" >&2; break; fi
      sleep 0.02
    done
    echo $(( (c1 - c0) / 1000000 )) >>"$work/commit-$(basename "$bin")-$([ "$bin" = "${BASE:-}" ] && echo base || echo new)"
    git -C "$work/fx/repo" reset -q --hard HEAD~1
  fi
  if [ "$change" = 1 ]; then
    local start end i=0 next_sample cpu0
    cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    cpu0=$(cpu)
    start=$(date +%s); end=$(( start + change_secs )); next_sample=$start
    while [ "$(date +%s)" -lt "$end" ]; do
      # The resident memory once a minute, to see growth over a long run.
      if [ "$(date +%s)" -ge "$next_sample" ]; then
        echo "$(( $(date +%s) - start )) $(rss)" >>"$work/rss-trace-$(basename "$bin")"
        next_sample=$(( next_sample + 60 ))
      fi
      i=$((i + 1))
      curl -sf -X PATCH -H 'content-type: application/merge-patch+json' \
        -d "{\"data\": {\"bench\": \"$i\"}}" \
        "$url/api/v1/namespaces/team-000/configmaps/app-00000-config" >/dev/null || true
      sleep 0.05
    done
    # The explorer's CPU time over the changes, in percent of one core.
    echo "$(( ($(cpu) - cpu0) * 100 / ($(getconf CLK_TCK) * ($(date +%s) - start)) ))" \
      >"$work/cpu-$(basename "$bin")-$([ "$bin" = "${BASE:-}" ] && echo base || echo new)"
    sleep 1
    out="$out $(rss) $(hwm)"
  fi
  tmux send-keys -t "$session" q
  sleep 0.3
  echo "$out"
}

# warm BIN: the explorer once, untimed, until its cache folder holds its parse cache (a
# build that writes none: a minute, then a warning).
warm() {
  tmux new-session -d -s "$session" -x 200 -y 50 \
    "cd $work/fx && XDG_CACHE_HOME=$(cache_of "$1") exec $1 --kubeconfig $work/kc --repo repo -l app.kubernetes.io/part-of=fixture"
  local i
  for i in $(seq 600); do
    find "$(cache_of "$1")/kdrift/parsed" -type f ! -name '.tmp*' 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  [ "$i" = 600 ] && echo "warm: $1 wrote no parse cache in 60 s" >&2
  tmux send-keys -t "$session" q
  sleep 0.3
  tmux kill-session -t "$session" 2>/dev/null || true
}
if [ -n "${WARM:-}" ]; then
  warm "$bin"
  [ -n "${BASE:-}" ] && warm "$BASE"
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/new"; : >"$work/base"
for r in $(seq "$runs"); do
  last=0; [ "$r" = "$runs" ] && last=1
  line=$(one_run "$bin" "$last"); echo "$line" >>"$work/new"
  echo "run $r: kdrift: first correct screen ${line%% *} ms, memory (rss hwm [after ${change_secs}s of changes: rss hwm]) MB: ${line#* }" >&2
  if [ -n "${BASE:-}" ]; then
    line=$(one_run "$BASE" "$last"); echo "$line" >>"$work/base"
    echo "run $r: BASE:   first correct screen ${line%% *} ms, memory MB: ${line#* }" >&2
  fi
done
summary() { # name file
  [ -s "$2" ] || return 0
  printf '%-8s first correct screen median %6d ms; rss at it median %4d MB, peak median %4d MB; after changes: %s\n' "$1" \
    "$(cut -d' ' -f1 "$2" | median)" "$(cut -d' ' -f2 "$2" | median)" "$(cut -d' ' -f3 "$2" | median)" \
    "$(tail -n1 "$2" | cut -d' ' -f4-5 | awk '{ if (NF) printf "rss %d MB, peak %d MB", $1, $2; else print "-" }')" >&2
}
for f in "$work"/cpu-*; do
  [ -s "$f" ] || continue
  echo "$(basename "$f" | sed 's/.*-//'): the explorer's CPU while the changes came: $(cat "$f")% of one core (a change every 50 ms)" >&2
done
for f in "$work"/rss-trace-*; do
  [ -s "$f" ] || continue
  echo "resident memory during the changes ($(basename "$f" | sed 's/rss-trace-//'), seconds MB): $(tr '\n' ' ' <"$f")" >&2
done
summary kdrift "$work/new"
summary BASE "$work/base"
for f in "$work"/commit-*; do
  [ -s "$f" ] || continue
  printf '%-8s a new commit at HEAD on screen: median %d ms (n=%d)\n' "$(basename "$f" | sed 's/.*-//')" \
    "$(median <"$f")" "$(wc -l <"$f")" >&2
done
