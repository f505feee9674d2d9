#!/usr/bin/env python3
"""Compare `etcdctl get "" --prefix -w json` output with `reshift dump` JSON Lines.

usage: compare_dump.py ETCDCTL_JSON RESHIFT_JSONL
Exit 0 when every key, value, create/mod revision, version and lease agree, in order.
"""
import json, sys

def main():
    etcd = json.load(open(sys.argv[1])).get("kvs", [])
    ours = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    fields = ("key", "value", "create_revision", "mod_revision", "version", "lease")
    norm = lambda kv: tuple(kv.get(f, "" if f in ("key", "value") else 0) for f in fields)
    a, b = [norm(x) for x in etcd], [norm(x) for x in ours]
    if a == b:
        print("equal: %d keys" % len(a))
        return 0
    print("DIFFERENT: etcd %d keys, reshift %d keys" % (len(a), len(b)))
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            print("first difference at %d:\n etcd    %s\n reshift %s" % (i, x[:1] + x[2:], y[:1] + y[2:]))
            break
    return 1

if __name__ == "__main__":
    sys.exit(main())
