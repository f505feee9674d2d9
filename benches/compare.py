#!/usr/bin/env python3
"""Side-by-side comparison of reshift with etcd's own tools and libraries.

usage: benches/compare.py SIZE_MB [--runs N] [--dir DIR] [--only WORD] [--no-build]
       benches/compare.py --dir DIR [...]        (an existing data dir, e.g. from benches/gen_big.py)

Makes (or reuses) a data dir of about SIZE_MB with a real etcd (../shared/tools/gen_etcd.py,
under /tmp), builds reshift and the Go baseline (../shared/tools/gobase), then times each
pair of commands in alternating runs (A, B, A, B, ...) with a warm page cache, and prints
a Markdown table of medians and ratios, plus peak anonymous memory of reshift's commands.
Outputs (snapshot, restored dirs) go to /tmp/reshift-compare*, or with --dir beside DIR
(DIR-cmp*), one restored dir at a time.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")

def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)

def timed(cmd):
    # "PREP ;; CMD": PREP runs first, untimed (for example, removing the last run's output).
    if " ;; " in cmd:
        prep, cmd = cmd.split(" ;; ", 1)
        subprocess.run(prep, shell=True, check=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0

def alternate(cmds, runs):
    for c in cmds:  # warm-up
        timed(c)
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            times[i].append(timed(c))
    return [statistics.median(t) for t in times]

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def etcd_on(data, port):
    """A real etcd 3.4 on `data` (client port `port`), waited for until it answers."""
    import urllib.request
    peer = free_port()
    p = subprocess.Popen(["etcd", "--name", "default", "--data-dir", data,
                          "--listen-client-urls", "http://127.0.0.1:%d" % port,
                          "--advertise-client-urls", "http://127.0.0.1:%d" % port,
                          "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                          "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                          "--initial-cluster", "default=http://127.0.0.1:%d" % peer],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 300:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2).read()
            return p
        except Exception:
            time.sleep(0.3)
    p.kill()
    raise SystemExit("etcd did not start on %s" % data)

def rewrite_share(port, share, change=None):
    """Writes again every 1/share-th live key with its own value (a new revision each), the
    way an apiserver's updates look to etcd, through etcd's JSON gateway; with `change`, with
    the value `change(key, value)` gives (bytes to bytes)."""
    import base64, urllib.request
    def call(path, body):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), json.dumps(body).encode())
        return json.loads(urllib.request.urlopen(req, timeout=30).read())
    keys = call("/v3/kv/range", {"key": base64.b64encode(b"\0").decode(), "range_end": base64.b64encode(b"\0").decode(), "keys_only": True}).get("kvs", [])
    picked = keys[::share]
    for kv in picked:
        got = call("/v3/kv/range", {"key": kv["key"]})["kvs"][0]
        value = got.get("value", "")
        if change:
            value = base64.b64encode(change(base64.b64decode(kv["key"]), base64.b64decode(value))).decode()
        call("/v3/kv/put", {"key": kv["key"], "value": value})
    return len(picked), len(keys)

def labelled(key, value):
    """`value` with one more label, `reshift-compare: changed` (an object changed the way a
    `kubectl label` changes it): in the protobuf envelope's ObjectMeta (field 11, a map
    entry) or in a JSON object's metadata.labels; other values get a byte appended."""
    sys.path.insert(0, os.path.join(SHARED, "tools"))
    import gen_etcd as g
    if value[:4] == g.MAGIC:
        entry = g.encode([(1, 2, b"reshift-compare"), (2, 2, b"changed")])
        env = []
        for tag, wt, v in g.fields(value[4:]):
            if tag == 2:  # the raw object: field 1 is its ObjectMeta
                obj = []
                for otag, owt, ov in g.fields(v):
                    if otag == 1:
                        ov = g.encode(sorted(g.fields(ov) + [(11, 2, entry)], key=lambda f: f[0]))
                    obj.append((otag, owt, ov))
                v = g.encode(obj)
            env.append((tag, wt, v))
        return g.MAGIC + g.encode(env)
    try:
        o = json.loads(value)
        o.setdefault("metadata", {}).setdefault("labels", {})["reshift-compare"] = "changed"
        return (json.dumps(o) + "\n").encode()
    except (ValueError, AttributeError):
        return value + b"."

def diff_copy(r, data):
    """A copy of `data` with 5% of its live objects changed (one label added) through a
    real etcd: the second state of the diff task. Made once, untimed, and kept."""
    copy = data + "-diff5"
    if not os.path.exists(copy):
        sh("rm -rf %s.tmp && cp -a %s %s.tmp" % (copy, data, copy))
        port = free_port()
        etcd = etcd_on(copy + ".tmp", port)
        try:
            n, total = rewrite_share(port, 20, labelled)
            print("diff: changed %d of %d keys" % (n, total), file=sys.stderr)
        finally:
            etcd.terminate()
            etcd.wait()
        sh("mv %s.tmp %s" % (copy, copy))
    return copy

def node_local_tasks(r, data, want, runs, rows):
    """Issue 19: an incremental snapshot of a data dir with 1% of its keys written again,
    against a full one; a running member's snapshot against the stopped member's and
    against `etcdctl snapshot save` + `zstd -3`."""
    work = data + "-node-local"
    prev, full, inc = "/tmp/reshift-compare-prev.rsnap", "/tmp/reshift-compare-full.rsnap", "/tmp/reshift-compare-inc.rsnap"
    port = free_port()
    if not os.path.exists(work):
        sh("cp -a %s %s.tmp && mv %s.tmp %s" % (data, work, work, work))
        sh("rm -f %s && %s snapshot %s -o %s" % (prev, r, work, prev))
        etcd = etcd_on(work, port)
        try:
            n, total = rewrite_share(port, 100)
            print("node-local: wrote %d of %d keys again" % (n, total), file=sys.stderr)
        finally:
            etcd.terminate()
            etcd.wait()
    task = "incremental snapshot, 1% of keys changed"
    if want(task):
        m = alternate(["rm -f %s && sync ;; %s snapshot %s -o %s" % (full, r, work, full),
                       "rm -f %s && sync ;; %s snapshot %s --since %s -o %s" % (inc, r, work, prev, inc)], runs)
        size = os.path.getsize(inc) / os.path.getsize(full)
        rows.append((task, "reshift snapshot DIR --since PREV -o F", m[1], "reshift snapshot DIR -o F (full)", m[0], m[1] / m[0],
                     "size %.4fx of the full one (goals < 0.10 time, < 0.05 size)" % size))
    task = "snapshot of a running member"
    if want(task) and shutil.which("etcdctl") and shutil.which("zstd"):
        stopped = alternate(["rm -f %s && sync ;; %s snapshot %s -o %s" % (full, r, work, full)], runs)[0]
        etcd = etcd_on(work, port)
        try:
            m = alternate(["rm -f %s && sync ;; %s snapshot %s -o %s" % (full, r, work, full),
                           "rm -f /tmp/reshift-compare-save.db /tmp/reshift-compare-save.db.zst && sync ;; "
                           "ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:%d snapshot save /tmp/reshift-compare-save.db && "
                           "zstd -q -3 /tmp/reshift-compare-save.db -o /tmp/reshift-compare-save.db.zst" % port], runs)
        finally:
            etcd.terminate()
            etcd.wait()
        rows.append((task, "reshift snapshot DIR -o F (etcd running, idle)", m[0], "etcdctl snapshot save + zstd -3", m[1], m[0] / m[1],
                     "goal <= 0.33; the stopped member's took %.3f s (%.2fx)" % (stopped, m[0] / stopped)))
        sh("rm -f /tmp/reshift-compare-save.db /tmp/reshift-compare-save.db.zst")

def serve_tasks(r, data, want, runs, rows):
    import http.client, urllib.parse
    port = free_port()
    kc = "/tmp/reshift-compare-serve.kubeconfig"
    if os.path.exists(kc):
        os.remove(kc)
    srv = subprocess.Popen([r, "serve", data, "--listen", "127.0.0.1:%d" % port, "--kubeconfig", kc],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while not os.path.exists(kc):
            if time.time() - t0 > 600 or srv.poll() is not None:
                raise SystemExit("reshift serve did not start")
            time.sleep(0.2)
        task = "serve: kubectl get pods -A"
        if want(task):
            ours = "kubectl --kubeconfig %s get pods -A" % kc
            theirs = "%s ls %s --resource pods" % (r, data)
            m = alternate([ours, theirs], runs)
            n = subprocess.run(ours, shell=True, capture_output=True, text=True, check=True).stdout.count("\n") - 1
            rows.append((task, ours.replace(kc, "K"), m[0], theirs, m[1], m[0] / m[1],
                         "%d pods; goal < 2.0 (server started once, untimed)" % n))
        task = "serve: one GET"
        if want(task):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/v1/pods?limit=200")
            items = json.loads(c.getresponse().read())["items"]
            paths = ["/api/v1/namespaces/%s/pods/%s" % (urllib.parse.quote(i["metadata"]["namespace"]), urllib.parse.quote(i["metadata"]["name"])) for i in items]
            for what, accept in [("JSON", "application/json"),
                                 ("Table (as kubectl get asks)", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
                                 ("protobuf", "application/vnd.kubernetes.protobuf,application/json")]:
                lat = []
                for k in range(1000):  # bounded: 1000 requests on one keep-alive connection
                    t = time.perf_counter()
                    c.request("GET", paths[k % len(paths)], headers={"Accept": accept})
                    resp = c.getresponse()
                    resp.read()
                    lat.append(time.perf_counter() - t)
                    assert resp.status == 200, resp.status
                lat.sort()
                rows.append(("%s, %s" % (task, what), "1000 GETs of %d pods over 127.0.0.1 (keep-alive)" % len(paths),
                             statistics.median(lat), "-", 0.0, 0.0,
                             "median %.2f ms, p99 %.2f ms at the client; goal < 5 ms" % (statistics.median(lat) * 1e3, lat[989] * 1e3)))
            c.close()
    finally:
        srv.kill()
        srv.wait()

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("size_mb", type=int, nargs="?", help="size of the data dir to make (not needed with --dir DIR of an existing one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", help="data dir to use or make (default /tmp/reshift-compare-SIZE)")
    ap.add_argument("--no-build", action="store_true",
                    help="use the reshift binary already built under CARGO_TARGET_DIR (or target/)")
    ap.add_argument("--only", action="append", default=[],
                    help="time only the tasks whose description contains WORD (repeatable); measures only the memory peaks of inspect, snapshot and restore, for those of them chosen")
    a = ap.parse_args()
    if a.size_mb is None and not a.dir:
        ap.error("give SIZE_MB or --dir DIR")
    data = a.dir or "/tmp/reshift-compare-%d" % a.size_mb
    if not os.path.exists(os.path.join(data, "member", "snap", "db")):
        if a.size_mb is None:
            ap.error("%s holds no member/snap/db; give SIZE_MB to make one" % data)
        objects = max(1000, a.size_mb * 90)  # about 11 KB of db per object, history included
        sh("python3 %s --out %s --objects %d --compact --port 26790" % (os.path.join(SHARED, "tools", "gen_etcd.py"), data, objects))
    if not a.no_build:
        sh("cargo build --release -q", cwd=ROOT)
    gobase = "/tmp/gobase"
    if not os.path.exists(gobase):
        sh("%s %s" % (os.path.join(SHARED, "tools", "gobase", "build.sh"), gobase))
    r = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "reshift")
    db = os.path.join(data, "member", "snap", "db")
    wal, snapdir = os.path.join(data, "member", "wal"), os.path.join(data, "member", "snap")
    # Outputs: beside an explicitly given data dir, so that runs on different dirs do not share them.
    pre = data.rstrip("/") + "-cmp" if a.dir else "/tmp/reshift-compare"
    shm = os.path.join("/dev/shm", os.path.basename(pre))
    out, zst, rc1, rc2 = pre + ".rsnap", pre + ".db.zst", pre + "-rc1", pre + "-rc2"
    rows = []
    load0 = os.getloadavg()[0]

    def want(task):
        return not a.only or any(w.lower() in task.lower() for w in a.only)

    def pair(task, ours, theirs, note=""):
        if want(task):
            m = alternate([ours, theirs], a.runs)
            rows.append((task, ours, m[0], theirs, m[1], m[0] / m[1], note))

    pair("scan the key bucket, decode every KeyValue", "%s dump --prefix /reshift-none %s" % (r, db), "%s scan %s" % (gobase, db))
    pair("read and decode every WAL entry", "%s wal --summary %s" % (r, data), "%s wal %s %s" % (gobase, wal, snapdir))
    pair("Kubernetes metadata of every object", "%s ls --no-wal %s -l reshift-none=1" % (r, db), "%s scan %s" % (gobase, db), "goal: less than gobase merely reading the db")
    task = "inspect (db + WAL + metadata of every object)"
    if want(task):
        m = alternate(["%s inspect -o json %s" % (r, data), "%s scan %s" % (gobase, db), "%s wal %s %s" % (gobase, wal, snapdir)], a.runs)
        rows.append((task, "reshift inspect DIR", m[0], "gobase scan + gobase wal", m[1] + m[2], m[0] / (m[1] + m[2]), "goal <= 0.25 (issue 21)"))
    if shutil.which("etcdctl"):
        pair("db summary", "%s inspect --no-wal -o json %s" % (r, db), "ETCDCTL_API=3 etcdctl snapshot status %s -w json" % db)
    # Commands that write large files start from a page cache with nothing dirty (`sync`,
    # untimed), so that neither pays for the writeback of the other's last run.
    task = "latest-state snapshot"
    if want(task):
        m = alternate(["rm -f %s %s && sync ;; %s snapshot %s -o %s" % (out, zst, r, data, out),
                       "rm -f %s && sync ;; zstd -q -f -3 -T2 %s -o %s" % (zst, db, zst)], a.runs)
        size = os.path.getsize(out) / os.path.getsize(zst)
        os.remove(zst)
        rows.append((task, "reshift snapshot DIR -o F", m[0], "zstd -3 -T2 DB", m[1], m[0] / m[1], "size %.3fx of zstd -3 (goal: time and size <= 0.6, issue 21)" % size))
    elif not os.path.exists(out):
        sh("%s snapshot %s -o %s" % (r, data, out))
    task = "restore a member dir"
    if shutil.which("etcdctl") and want(task):
        m = alternate(["rm -rf %s %s && sync ;; %s restore %s --data-dir %s" % (rc1, rc2, r, out, rc1),
                       "rm -rf %s %s && sync ;; ETCDCTL_API=3 etcdctl snapshot restore %s --skip-hash-check --data-dir %s" % (rc1, rc2, db, rc2)], a.runs)
        rows.append((task, "reshift restore F --data-dir D", m[0], "etcdctl snapshot restore DB --data-dir D", m[1], m[0] / m[1], "goal <= 0.7 (issue 21); from the compressed snapshot vs the raw db"))
        sh("rm -rf %s %s" % (rc1, rc2))
    # The same restore into memory (/dev/shm), where this VM's noisy disk does not decide it.
    task = "restore a member dir into /dev/shm"
    # Skipped where memory could not hold the restored db and the db (cached) with room to spare.
    avail = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemAvailable:"))) * 1024
    roomy = os.path.isdir("/dev/shm") and avail > 3 * os.path.getsize(db)
    if want(task) and not roomy:
        print("skipped: %s (less than 3 times the db's size of memory available)" % task, file=sys.stderr)
    if shutil.which("etcdctl") and roomy and want(task):
        m = alternate(["rm -rf %s-rc1 %s-rc2 ;; %s restore %s --data-dir %s-rc1" % (shm, shm, r, out, shm),
                       "rm -rf %s-rc1 %s-rc2 ;; ETCDCTL_API=3 etcdctl snapshot restore %s --skip-hash-check --data-dir %s-rc2" % (shm, shm, db, shm)], a.runs)
        rows.append((task, "reshift restore F --data-dir /dev/shm/D", m[0], "etcdctl snapshot restore DB --data-dir /dev/shm/D", m[1], m[0] / m[1], "goal <= 0.7"))
        sh("rm -rf %s-rc1 %s-rc2" % (shm, shm))
    if shutil.which("etcd") and (want("incremental snapshot, 1% of keys changed") or want("snapshot of a running member")):
        node_local_tasks(r, data, want, a.runs, rows)
    # Issue 17: diff of two states against dump of one; export of every object against
    # ls -o objects. diff exits 1 when the states differ.
    task = "diff two states, 5% of objects changed"
    if want(task) and shutil.which("etcd"):
        copy = diff_copy(r, data)
        m = alternate(["%s diff %s %s || test $? = 1" % (r, data, copy), "%s dump %s" % (r, data)], a.runs)
        rows.append((task, "reshift diff DIR COPY", m[0], "reshift dump DIR", m[1], m[0] / m[1],
                     "goal < 2.0; COPY: DIR with every 20th live key labelled through etcd (untimed, kept)"))
    task = "diff the state at the compaction with the latest"
    if want(task):
        compact = json.loads(subprocess.run([r, "inspect", "-o", "json", data], capture_output=True, text=True, check=True).stdout)["compact_revision"]
        pair(task, "%s diff %s --from-revision %d || test $? = 1" % (r, data, compact), "%s dump %s" % (r, data), "27-40% of objects differ")
    pair("export every object", "%s export %s -o - --include-owned --include-secrets" % (r, data), "%s ls %s -o objects" % (r, data), "goal < 2.0")
    # Issue 20: every object's metadata and per-kind columns to Parquet, against ls reading
    # the metadata of every object; its peak memory is measured with it (even with --only).
    pq = "/tmp/reshift-compare-parquet"
    task = "export every object to Parquet"
    pair(task, "rm -rf %s && sync ;; %s export --no-wal %s --format parquet -o %s --cluster-name bench" % (pq, r, db, pq),
         "%s ls --no-wal %s -l reshift-none=1" % (r, db), "goal < 1.5; peak memory below")
    parquet_peak = None
    if want(task):
        sh("rm -rf %s" % pq)
        parquet_peak = ("export --no-wal DB --format parquet -o D", subprocess.run(
            [sys.executable, os.path.join(HERE, "peak_anon.py"), r, "export", "--no-wal", db, "--format", "parquet",
             "-o", pq, "--cluster-name", "bench"], capture_output=True, text=True).stdout.strip())
        sh("rm -rf %s" % pq)
    task = "get one key from the snapshot (fresh process)"
    if want(task):
        keys = subprocess.run([r, "ls", out, "-o", "json"], capture_output=True, text=True, check=True).stdout.splitlines()
        key = json.loads(keys[len(keys) // 2])["key"]
        m = alternate(["%s get %s '%s' -o kv" % (r, out, key), "true"], a.runs)
        rows.append((task, "reshift get F KEY", m[0], "-", 0.0, 0.0, "goal < 50 ms"))
    # Issue 18: kubectl against `reshift serve` (started once, untimed) against `reshift ls`
    # listing the same pods from the files; then single GETs against 127.0.0.1.
    if shutil.which("kubectl") and (want("serve: kubectl get pods -A") or want("serve: one GET")):
        serve_tasks(r, data, want, a.runs, rows)
    def peak(*args):
        return subprocess.run([sys.executable, os.path.join(HERE, "peak_anon.py"), r, *args], capture_output=True, text=True).stdout.strip()
    peaks = []
    if not a.only:
        sh("rm -rf %s" % rc1)
        peaks = [("dump DIR", peak("dump", data)), ("inspect DIR", peak("inspect", data)),
                 ("ls -o objects DIR (full decoding)", peak("ls", data, "-o", "objects")),
                 ("snapshot DIR", peak("snapshot", data, "-o", out, "--force")),
                 ("dump F (the snapshot)", peak("dump", out)),
                 ("inspect F", peak("inspect", out)),
                 ("ls -o objects F", peak("ls", out, "-o", "objects")),
                 ("restore F --data-dir D", peak("restore", out, "--data-dir", rc1))]
        sh("rm -rf %s" % rc1)
        peaks.append(("restore F --data-dir D --prefix /registry/ (filtered: reads every record first)",
                      peak("restore", out, "--data-dir", rc1, "--prefix", "/registry/")))
        sh("rm -rf %s" % rc1)
    else:  # the peaks of the chosen main jobs only
        if want("inspect (db + WAL + metadata of every object)"):
            peaks.append(("inspect DIR", peak("inspect", data)))
        if want("latest-state snapshot"):
            peaks.append(("snapshot DIR", peak("snapshot", data, "-o", out, "--force")))
        if want("restore a member dir"):
            sh("rm -rf %s" % rc1)
            peaks.append(("restore F --data-dir D", peak("restore", out, "--data-dir", rc1)))
            sh("rm -rf %s" % rc1)

    if parquet_peak:
        peaks.append(parquet_peak)
    dbsize = os.path.getsize(db) / 1e6
    print("\n%s, %s, %d cores; data dir %s (db %.0f MB); medians of %d alternating runs; load average %.2f at the start, %.2f at the end\n" % (
        time.strftime("%Y-%m-%d"), platform.machine(), os.cpu_count(), data, dbsize, a.runs, load0, os.getloadavg()[0]))
    print("| task | reshift | s | baseline | s | ratio | note |")
    print("|---|---|---|---|---|---|---|")
    for task, ours, t1, theirs, t2, ratio, note in rows:
        short = lambda c: c.replace(r, "reshift").replace(gobase, "gobase").replace(data, "DIR").replace(db, "DB")
        if t2:
            print("| %s | `%s` | %.3f | `%s` | %.3f | %.2fx | %s |" % (task, short(ours), t1, short(theirs), t2, ratio, note))
        else:
            print("| %s | `%s` | %.3f | - | - | - | %s |" % (task, short(ours), t1, note))
    if peaks:
        print("\nPeak anonymous memory (goal <= 256 MB):\n")
    for what, p in peaks:
        print("- `reshift %s`: %s" % (what, p))

if __name__ == "__main__":
    main()
