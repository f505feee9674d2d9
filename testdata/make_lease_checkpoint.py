#!/usr/bin/env python3
"""Makes testdata/lease-ckpt-3.4/ and testdata/lease-ckpt-3.5/: members of a real etcd 3.4
and 3.5 run with --experimental-enable-lease-checkpoint, whose WAL holds lease checkpoints
the db never got (10-hour backend batch interval, then SIGKILL).

    python3 testdata/make_lease_checkpoint.py    # from the repository root; takes ~6 minutes

etcd checkpoints a lease whose remaining TTL is above the checkpoint interval (5 minutes,
not settable by flag in 3.4 or 3.5) that long after granting it. etcd 3.4 needs --logger zap
with checkpoints enabled (its default logger crashes on the flag's warning). Each member gets:
  lease A  TTL 3600, key /ckpt/a   checkpointed once (remaining ~3300)
  lease B  TTL 3600, key /ckpt/b   checkpointed, then kept alive once: the renewal writes a
                                    checkpoint of 0 (remaining TTL cleared)
  lease C  TTL 100,  key /ckpt/c   expires after 100 s: etcd revokes it (key deleted)
then a last put, and SIGKILL. testdata/lease-ckpt-3.x.json record the lease IDs. etcd 3.5 comes from
/tmp/reshift-etcd-3.5/usr/bin (or RESHIFT_ETCD35), made by .ci/etcd35.sh.
"""
import json, os, shutil, signal, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_testdata as mt

HERE = mt.HERE
FLAGS = ["--logger", "zap", "--experimental-enable-lease-checkpoint", "--backend-batch-interval", "10h",
         "--backend-batch-limit", "100000000", "--snapshot-count", "1000000"]

def start(bindir, d):
    path = os.environ["PATH"]
    # The Etcd helper runs the `etcd` on PATH.
    os.environ["PATH"] = (bindir + ":" + path) if bindir else path
    try:
        return mt.Etcd(d, "ckpt", FLAGS)
    finally:
        os.environ["PATH"] = path

def main():
    d35 = os.environ.get("RESHIFT_ETCD35", "/tmp/reshift-etcd-3.5/usr/bin")
    tags = {"lease-ckpt-3.4": None, "lease-ckpt-3.5": d35}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        members = {}
        for tag, bindir in tags.items():
            e = start(bindir, os.path.join(tmp, tag))
            a, b, c = e.grant(3600), e.grant(3600), e.grant(100)
            e.put(b"/ckpt/a", b"a", lease=a)
            e.put(b"/ckpt/b", b"b", lease=b)
            e.put(b"/ckpt/c", b"c", lease=c)
            members[tag] = (e, {"lease_a": a, "lease_b": b, "lease_c": c})
        time.sleep(320)
        for tag, (e, exp) in members.items():
            try:
                e.call("/v3/lease/keepalive", {"ID": str(exp["lease_b"])})
            except ValueError:
                pass  # a stream of results, not one JSON value
            e.conn = None
            exp["last_revision"] = e.put(b"/ckpt/last", b"z")
            e.stop(signal.SIGKILL)
            d = os.path.join(tmp, tag)
            mt.trim_wal(os.path.join(d, "member", "wal"))
            mt.trim_db(os.path.join(d, "member", "snap", "db"))
            shutil.rmtree(os.path.join(HERE, tag), ignore_errors=True)
            shutil.copytree(d, os.path.join(HERE, tag))
            with open(os.path.join(HERE, tag + ".json"), "w") as f:
                json.dump(exp, f, indent=1)
            print(tag, exp)

if __name__ == "__main__":
    main()
