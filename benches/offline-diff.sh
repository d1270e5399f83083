#!/usr/bin/env bash
# Times `kdrift diff --live-file` on a generated 10,000-resource fixture, stage by stage, and
# prints the median of each stage over RUNS runs (default 7). Every run is a fresh process.
#
#   benches/offline-diff.sh [RESOURCES] [RUNS]
#
# FIXTURE_TOOL=path/to/gen-fixture uses another generator with the same output format
# (e.g. the reference one); by default the project's own `kdrift fixture` is used.
# Each run's peak memory (/usr/bin/time) is reported too; BASE=path/to/kdrift runs an earlier
# build after each run, for a baseline of time and memory in the same run. SIM=1 loads the
# live objects into `kdrift sim` and diffs against it over HTTP instead of reading the file
# (the same objects, listed page by page as from a cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
resources=${1:-10000}
runs=${2:-7}
cargo build --profile profiling -q
bin=target/profiling/kdrift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${FIXTURE_TOOL:-}" ]; then
  "$FIXTURE_TOOL" "$work/fx" --resources "$resources" >/dev/null 2>&1
else
  "$bin" fixture "$work/fx" --resources "$resources" >/dev/null 2>&1
fi
echo "fixture: $resources resources, $(du -sh "$work/fx/repo" | cut -f1) of manifests, $(du -h "$work/fx/live.json" | cut -f1) of live JSON"
live=(--live-file "$work/fx/live.json")
if [ -n "${SIM:-}" ]; then
  "$bin" sim --kubeconfig-out "$work/kc" --load "$work/fx/live.json" >"$work/url" 2>"$work/sim.log" &
  sim_pid=$!
  trap 'kill $sim_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 600); do [ -s "$work/url" ] && break; sleep 0.1; done
  live=(--kubeconfig "$work/kc")
  echo "against kdrift sim at $(head -n1 "$work/url")"
fi
for i in $(seq "$runs"); do
  /usr/bin/time -f "new %e %M" -a -o "$work/peaks.txt" "$bin" diff --repo "$work/fx/repo" "${live[@]}" \
    -l app.kubernetes.io/part-of=fixture -o json --timings >"$work/report.json" 2>>"$work/timings.txt" || true
  if [ -n "${BASE:-}" ]; then
    /usr/bin/time -f "base %e %M" -a -o "$work/peaks.txt" "$BASE" diff --repo "$work/fx/repo" "${live[@]}" \
      -l app.kubernetes.io/part-of=fixture -o json >"$work/base-report.json" 2>/dev/null || true
    cmp -s "$work/report.json" "$work/base-report.json" || echo "run $i: the reports differ (new against base)"
  fi
done
python3 - "$work/peaks.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[0] in ("new", "base"):
        runs.setdefault(parts[0], []).append((float(parts[1]), int(parts[2])))
for b, v in runs.items():
    print(f"{b:<5} whole run median {statistics.median(t for t, _ in v) * 1000:7.0f} ms   peak RSS median {statistics.median(k for _, k in v) / 1024:5.0f} MB   (n={len(v)})")
PY
python3 - "$work/timings.txt" "$runs" <<'PY'
import re, statistics, sys
stages = {}
for line in open(sys.argv[1]):
    m = re.match(r"timing: (.+?)\s+([0-9.]+) ms", line)
    if m:
        stages.setdefault(m.group(1), []).append(float(m.group(2)))
for name, values in stages.items():
    print(f"{name:<22} median {statistics.median(values):7.1f} ms   (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})")
# Git's blobs are parsed while they are read ("parse manifests" is what is left after the
# last blob), and the live file is read beside both.
git = statistics.median(stages["read git"]) + statistics.median(stages["parse manifests"])
live = statistics.median(stages.get("read+parse live file") or stages.get("list cluster") or [0])
beyond = sum(statistics.median(stages[s]) for s in ("compare", "attribute", "render") if s in stages)
print(f"reading and parsing (Git {git:.1f} ms beside the live file {live:.1f} ms): {max(git, live):.1f} ms; compare, attribute and render: {beyond:.1f} ms")
PY
