#!/usr/bin/env bash
# Makes the README's screenshots from real `kdrift demo` runs: the demo in tmux at 120x36
# and at 80x24, captured with its colours after the demo's actors have acted, rendered to PNG.
#
#   scripts/screenshot.sh            writes assets/screenshot-tree.png, assets/screenshot-diff.png,
#                                    assets/screenshot-80x24.png and assets/screenshot-diff-80x24.png
#
# Needs tmux, git, python3 with Pillow (pip install pillow) and DejaVu Sans Mono.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/kdrift"
sock="kdrift-shot-$$"
work="$(mktemp -d)"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
tmux -L "$sock" -f /dev/null new-session -d -s shot -x 120 -y 36 \
  -e TERM=xterm-256color -e HOME="$work" -e XDG_STATE_HOME="$work/state" \
  "$bin demo --pace 0.6; sleep 30"
wait_for() {
  for _ in $(seq 1 200); do
    if tmux -L "$sock" capture-pane -p -t shot | grep -q -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2
  tmux -L "$sock" capture-pane -p -t shot >&2
  exit 1
}
wait_for "kdrift-demo"
wait_for "api: release 1.5.0"
sleep 5
keys() { tmux -L "$sock" send-keys -t shot "$@"; sleep 0.4; }
# The drifted resources, the Deployment web selected with its details beside.
keys f
keys / ; tmux -L "$sock" send-keys -t shot -l "deployment web"; sleep 0.4; keys Enter
tmux -L "$sock" capture-pane -e -p -t shot > "$work/tree.ansi"
python3 scripts/ansi2png.py "$work/tree.ansi" assets/screenshot-tree.png 120 36
# Its side-by-side diff.
keys Enter
tmux -L "$sock" capture-pane -e -p -t shot > "$work/diff.ansi"
python3 scripts/ansi2png.py "$work/diff.ansi" assets/screenshot-diff.png 120 36
keys q
tmux -L "$sock" kill-server 2>/dev/null || true
# At 80x24, as on call over SSH: the drifted filter, web selected with the detail below
# (i), then its diff, reached with J.
tmux -L "$sock" -f /dev/null new-session -d -s shot -x 80 -y 24 \
  -e TERM=xterm-256color -e HOME="$work" -e XDG_STATE_HOME="$work/state" \
  "$bin demo --pace 0.6; sleep 30"
wait_for "kdrift-demo"
wait_for "api: release 1.5.0"
sleep 5
keys f
keys / ; tmux -L "$sock" send-keys -t shot -l "deployment web"; sleep 0.4; keys Enter
keys i
tmux -L "$sock" capture-pane -e -p -t shot > "$work/tree80.ansi"
python3 scripts/ansi2png.py "$work/tree80.ansi" assets/screenshot-80x24.png 80 24
keys Enter
tmux -L "$sock" capture-pane -e -p -t shot > "$work/diff80.ansi"
python3 scripts/ansi2png.py "$work/diff80.ansi" assets/screenshot-diff-80x24.png 80 24
keys q
echo "wrote assets/screenshot-tree.png, assets/screenshot-diff.png, assets/screenshot-80x24.png and assets/screenshot-diff-80x24.png"
