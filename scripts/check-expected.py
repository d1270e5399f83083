#!/usr/bin/env python3
"""Compare a `kdrift diff --output json` report with a fixture's expected.json.

    kdrift diff --repo FX/repo --live-file FX/live.json -l app.kubernetes.io/part-of=fixture -o json > report.json
    scripts/check-expected.py FX/expected.json report.json

Prints every disagreement (status or drifted field paths) and exits 1 if there is any.
Works for fixtures of `kdrift fixture` and of the reference generator alike.
"""
import json
import sys


def main():
    expected = json.load(open(sys.argv[1]))
    report = json.load(open(sys.argv[2]))
    got = {}
    for r in report["resources"]:
        key = f'{r["group"]}/{r["kind"]}/{r["namespace"]}/{r["name"]}'
        got[key] = {"status": r["status"], "fields": sorted(f["path"] for f in r["fields"])}
    bad = 0
    for key, exp in sorted(expected.items()):
        g = got.get(key)
        want = {"status": exp["status"], "fields": sorted(exp["fields"])}
        if g != want:
            bad += 1
            if bad <= 30:
                print(f"{key}: expected {want}, got {g}")
    for key in sorted(set(got) - set(expected)):
        bad += 1
        if bad <= 30:
            print(f"{key}: not expected, got {got[key]}")
    print(f"{len(expected)} expected, {len(got)} reported, {bad} disagreements")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
