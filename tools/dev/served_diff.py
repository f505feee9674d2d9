#!/usr/bin/env python3
"""Compares reshift's objects with what the apiserver serves, over the k8s-served-dev set.

    python3 tools/dev/served_diff.py RESHIFT DEV_DIR [--kube-version 1.36] [--show N] [--set S]

DEV_DIR is the unpacked apienc-dev/ (see ../shared/k8s-served-dev/README.md). Prints how many
keys match byte for byte (served compact JSON, pretty JSON, YAML where given) and the first
differences of each class.
"""
import json, subprocess, sys, argparse, collections

ap = argparse.ArgumentParser()
ap.add_argument("reshift"); ap.add_argument("dev")
ap.add_argument("--kube-version", default="1.36")
ap.add_argument("--show", type=int, default=3)
ap.add_argument("--set", default=None)
ap.add_argument("--extra", nargs="*", default=[])
a = ap.parse_args()
data = f"{a.dev}/data"
rows = [json.loads(l) for l in open(f"{a.dev}/expected.jsonl")]
rows = [r for r in rows if "key" in r and "served" in r and (a.set is None or r["set"] == a.set)]

def run(*args):
    return subprocess.run([a.reshift, *args], capture_output=True)

keys = [json.loads(l)["key"] for l in run("ls", data, "-o", "json").stdout.decode().split("\n") if l]
objs = run("ls", data, "-o", "objects", "--kube-version", a.kube_version, *a.extra).stdout.decode("utf-8").split("\n")
got = dict(zip(keys, objs))
ok = collections.Counter(); bad = collections.defaultdict(list)
for r in rows:
    g = got.get(r["key"])
    want = r["served"]
    if g == want:
        ok[r["set"]] += 1
    else:
        bad[r["set"]].append((r, g))
print("served compact byte-exact:", sum(ok.values()), "of", len(rows))
for s in sorted(set(ok) | set(bad)):
    print(f"  {s}: {ok[s]} ok, {len(bad[s])} differ")
for s, lst in bad.items():
    for r, g in lst[: a.show]:
        w = r["served"]; g = g or ""
        i = next((i for i in range(min(len(w), len(g))) if w[i] != g[i]), min(len(w), len(g)))
        print(f"--- {s} {r['key']} ({r['apiVersion']} {r['kind']}, {r['encoding']}) first diff at {i}")
        print("   want:", w[max(0, i-80): i+80])
        print("   got: ", g[max(0, i-80): i+80])
