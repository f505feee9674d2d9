#!/usr/bin/env python3
"""Fill a real etcd 3.4 with a large, Kubernetes-shaped data dir made of fewer, larger objects.

usage: gen_big.py --out DATADIR --value-gb G [--writers W] [--batch-kb K] [--port P] [--seed S]

../shared/tools/gen_etcd.py costs about 12 ms of Python per object (it realizes every fixture
again), so 8 GB at the 1 GB dir's density would take hours. This generator reuses its protobuf
encoding, fixtures and key layout but realizes a few templates per kind once and then only swaps
each object's metadata (name, namespace, uid, creationTimestamp, labels), and gives ConfigMaps
and Secrets the large values big clusters have: configuration files, dashboards (JSON), CA
bundles and certificates (PEM), Helm release records (base64 of compressed data). Text comes
from pools of lines made once and picked per object, so values neither repeat whole nor are
plain noise. About 3/4 of the writes create objects, then a share of them is written again
(history, compacted at its midpoint) and a few are deleted, as gen_etcd.py --compact does.

It starts its own etcd (on PATH) with a raised --quota-backend-bytes and a small
--snapshot-count (so WAL segments get purged), writes through etcd's v3 JSON gateway in
transactions of about --batch-kb from several threads, and stops etcd cleanly at the end.
--value-gb counts the bytes of the values written (creates and updates); the db ends up a
little larger (pages, history).
"""
import argparse, base64, http.client, os, random, signal, subprocess, sys, threading, queue, time, uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "tools"))
import gen_etcd as g  # noqa: E402

# (fixture or generator, etcd resource prefix, namespaced, weight by count)
KINDS = [
    ("core.v1.Pod", "pods", True, 28),
    ("core.v1.Event", "events", True, 8),
    ("coordination.k8s.io.v1.Lease", "leases", True, 3),
    ("apps.v1.ReplicaSet", "replicasets", True, 5),
    ("apps.v1.Deployment", "deployments", True, 3),
    ("core.v1.Service", "services/specs", True, 2),
    ("discovery.k8s.io.v1.EndpointSlice", "endpointslices", True, 3),
    ("core.v1.ServiceAccount", "serviceaccounts", True, 3),
    ("apps.v1.StatefulSet", "statefulsets", True, 1),
    ("batch.v1.Job", "jobs", True, 1),
    ("core.v1.Node", "minions", False, 1),
    ("CR", "example.com/widgets", True, 1),
    ("ConfigMap", "configmaps", True, 23),
    ("Secret", "secrets", True, 18),
]
NAMESPACES = g.NAMESPACES + ["team-%02d" % i for i in range(33)]
TEMPLATES_PER_KIND = 48


class Pools:
    """Text made once: lines of configuration files, JSON dashboard panels, CA bundles."""

    def __init__(self, rnd):
        w = g.WORDS
        hosts = ["%s-%s.%s.svc.cluster.local" % (rnd.choice(w), rnd.choice(w), rnd.choice(g.NAMESPACES)) for _ in range(400)]
        lines = []
        for _ in range(40000):
            r = rnd.random()
            if r < 0.3:
                line = "%s%s.%s: %s" % ("  " * rnd.randint(0, 4), rnd.choice(w), rnd.choice(w), rnd.choice(
                    [str(rnd.randint(0, 100000)), rnd.choice(w), "true", "false", '"%s"' % rnd.choice(hosts),
                     "%dm" % rnd.randint(1, 4000), "%dMi" % rnd.choice([64, 128, 256, 512, 1024])]))
            elif r < 0.5:
                line = "%s %s:%d;" % (rnd.choice(["proxy_pass http://", "upstream ", "server ", "listen ", "resolver "]),
                                       rnd.choice(hosts), rnd.choice([80, 443, 8080, 9090, 5432, 6379]))
            elif r < 0.7:
                line = "# " + " ".join(rnd.choice(w) for _ in range(rnd.randint(3, 14)))
            elif r < 0.85:
                line = "export %s_%s=%s" % (rnd.choice(w).upper(), rnd.choice(w).upper(), g.realistic(rnd.choice(w), rnd).decode())
            else:
                line = "- record: %s:%s:rate%dm\n  expr: sum(rate(%s_%s_total{job=\"%s\"}[%dm])) by (%s)" % (
                    rnd.choice(w), rnd.choice(w), rnd.choice([1, 5, 15]), rnd.choice(w), rnd.choice(w),
                    rnd.choice(w), rnd.choice([1, 5, 15]), rnd.choice(w))
            lines.append(line)
        self.lines = lines
        panels = []
        for i in range(6000):
            panels.append(('{"id":%d,"type":"%s","title":"%s %s","gridPos":{"h":%d,"w":%d,"x":%d,"y":%d},'
                           '"datasource":"prometheus","targets":[{"expr":"sum(rate(%s_%s_total{namespace=\\"$namespace\\"}[5m])) by (%s)",'
                           '"legendFormat":"{{%s}}","refId":"A"}],"fieldConfig":{"defaults":{"unit":"%s","thresholds":{"steps":'
                           '[{"color":"green","value":null},{"color":"red","value":%d}]}}}}') % (
                i, rnd.choice(["graph", "stat", "table", "timeseries", "gauge"]), rnd.choice(w).title(), rnd.choice(w),
                rnd.randint(4, 12), rnd.choice([6, 8, 12, 24]), rnd.choice([0, 6, 12, 18]), rnd.randint(0, 200),
                rnd.choice(w), rnd.choice(w), rnd.choice(w), rnd.choice(w), rnd.choice(["s", "bytes", "percent", "reqps"]),
                rnd.randint(1, 1000)))
        self.panels = panels
        self.bundles = [b"".join(pem(rnd, rnd.randint(900, 1400), "CERTIFICATE") for _ in range(rnd.randint(1, 6))) for _ in range(24)]


def pem(rnd, n, what):
    body = base64.b64encode(rnd.randbytes(n))
    return (b"-----BEGIN %s-----\n" % what.encode() + b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
            + b"\n-----END %s-----\n" % what.encode())


def text(rnd, pools, size):
    return "\n".join(rnd.choices(pools.lines, k=max(1, size // 45))).encode() + b"\n"


def dashboard(rnd, pools, size):
    n = max(1, size // 420)
    return ('{"title":"%s","uid":"%x","schemaVersion":36,"panels":[%s]}' % (
        rnd.choice(g.WORDS), rnd.getrandbits(48), ",".join(rnd.choices(pools.panels, k=n)))).encode()


def lognormal(rnd, median, sigma, lo, hi):
    return int(min(hi, max(lo, rnd.lognormvariate(0, sigma) * median)))


def configmap_data(rnd, pools):
    r = rnd.random()
    if r < 0.15:  # kube-root-ca.crt and the like: the same bundle in many namespaces
        return [(b"ca.crt", rnd.choice(pools.bundles))]
    size = lognormal(rnd, 24000, 1.1, 400, 700000)
    if r < 0.45:
        return [(b"%s-dashboard.json" % rnd.choice(g.WORDS).encode(), dashboard(rnd, pools, size))]
    files = []
    parts = rnd.randint(1, 4)
    for i in range(parts):
        name = rnd.choice(["application.yaml", "nginx.conf", "rules.yml", "entrypoint.sh", "settings.ini", "env"])
        files.append((b"%d-%s" % (i, name.encode()), text(rnd, pools, size // parts)))
    return files


def secret_data(rnd, pools):
    r = rnd.random()
    if r < 0.4:
        return b"kubernetes.io/tls", [(b"ca.crt", rnd.choice(pools.bundles)), (b"tls.crt", pem(rnd, rnd.randint(900, 3000), "CERTIFICATE")),
                                      (b"tls.key", pem(rnd, rnd.choice([1190, 1218, 2350]), "RSA PRIVATE KEY"))]
    if r < 0.7:
        return b"Opaque", [(rnd.choice(g.WORDS).encode() + b"-%d" % i, g.realistic("token", rnd)) for i in range(rnd.randint(1, 6))]
    if r < 0.8:
        auth = base64.b64encode(b"robot:" + g.realistic("token", rnd))
        return b"kubernetes.io/dockerconfigjson", [(b".dockerconfigjson", b'{"auths":{"%s":{"auth":"%s"}}}' % (
            g.IMAGES[rnd.randrange(len(g.IMAGES))].split("/")[0].encode(), auth))]
    # a Helm release: base64 of gzip'd JSON, so close to random base64 text
    size = lognormal(rnd, 90000, 0.9, 8000, 700000)
    return b"helm.sh/release.v1", [(b"release", base64.b64encode(rnd.randbytes(size * 3 // 4)))]


def meta(name, ns, uid, created, labels):
    fs = [(1, 2, name.encode())]
    if ns:
        fs.append((3, 2, ns.encode()))
    fs += [(5, 2, uid.encode()), (8, 2, g.encode([(1, 0, created)]))]
    for k, v in sorted(labels.items()):
        fs.append((11, 2, g.encode([(1, 2, k.encode()), (2, 2, v.encode())])))
    return g.encode(fs)


def envelope(kind, obj_fields):
    return g.MAGIC + g.encode([(1, 2, g.encode([(1, 2, b"v1"), (2, 2, kind)])), (2, 2, g.encode(obj_fields)), (3, 2, b""), (4, 2, b"")])


class Maker:
    def __init__(self, fixtures, seed):
        self.rnd = random.Random(seed)
        self.pools = Pools(self.rnd)
        g.rnd_g = random.Random(seed + 1)
        self.templates = {}
        for f, *_ in KINDS:
            if f.count(".") >= 2:
                fx = open(os.path.join(fixtures, f + ".pb"), "rb").read()
                self.templates[f] = [g.rewrite(fx, "n", "ns", "u", 0, {}) for _ in range(TEMPLATES_PER_KIND)]
        g.rnd_g = None  # from here on rewrite only swaps the metadata
        self.seq = 0

    def value(self, kind, name, ns, uid, created):
        rnd = self.rnd
        f = kind[0]
        labels = {"app": "app-%d" % rnd.randint(0, 80), "tier": rnd.choice(["web", "db", "cache"])}
        if f == "ConfigMap":
            data = configmap_data(rnd, self.pools)
            return envelope(b"ConfigMap", [(1, 2, meta(name, ns, uid, created, labels))] +
                            [(2, 2, g.encode([(1, 2, k), (2, 2, v)])) for k, v in sorted(data)])
        if f == "Secret":
            typ, data = secret_data(rnd, self.pools)
            return envelope(b"Secret", [(1, 2, meta(name, ns, uid, created, labels))] +
                            [(2, 2, g.encode([(1, 2, k), (2, 2, v)])) for k, v in sorted(data)] + [(3, 2, typ)])
        if f == "CR":
            import json
            obj = {"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": name, "namespace": ns, "uid": uid,
                                "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                                "generation": 1, "labels": labels},
                   "spec": {"size": rnd.randint(1, 100), "notes": " ".join(rnd.choices(g.WORDS, k=rnd.randint(2, 80)))}}
            return (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        return g.rewrite(rnd.choice(self.templates[f]), name, ns, uid, created, labels)

    def new(self, kind):
        rnd = self.rnd
        self.seq += 1
        f, res, namespaced, _ = kind
        ns = rnd.choice(NAMESPACES) if namespaced else ""
        name = "%s-%07d-%s" % (res.split("/")[-1].rstrip("s"), self.seq, "%05x" % rnd.getrandbits(20))
        key = "/registry/%s/%s%s" % (res, ns + "/" if ns else "", name)
        return key.encode(), (kind, name, ns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--value-gb", type=float, required=True, help="bytes of values to write, in GB (1e9)")
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "shared", "k8s-api-testdata", "HEAD"))
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--batch-kb", type=int, default=384, help="bytes of values per transaction (etcd keeps its last 5000 raft entries in memory)")
    ap.add_argument("--port", type=int, default=26890)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--snapshot-count", type=int, default=2000)
    a = ap.parse_args()
    if os.path.exists(os.path.join(a.out, "member")):
        raise SystemExit("%s already holds a member" % a.out)
    t_start = time.time()
    mk = Maker(a.fixtures, a.seed)
    rnd = mk.rnd
    print("templates and pools: %.1fs" % (time.time() - t_start), file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    log = open(a.out.rstrip("/") + ".etcd.log", "w")
    peer = a.port + 1
    proc = subprocess.Popen([
        "etcd", "--name", "gen", "--data-dir", a.out,
        "--listen-client-urls", "http://127.0.0.1:%d" % a.port,
        "--advertise-client-urls", "http://127.0.0.1:%d" % a.port,
        "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
        "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
        "--initial-cluster", "gen=http://127.0.0.1:%d" % peer,
        "--snapshot-count", str(a.snapshot_count),
        "--max-txn-ops", "100000", "--max-request-bytes", str(16 * 1024 * 1024),
        "--quota-backend-bytes", str(16 * 1024**3)], stdout=log, stderr=log)
    try:
        e = g.Etcd(a.port)
        for _ in range(300):
            try:
                e.call("/v3/kv/range", {"key": base64.b64encode(b"x").decode()})
                break
            except Exception:
                time.sleep(0.1)
        ev_lease = e.lease(86400)
        q = queue.Queue(maxsize=4 * a.writers)
        errors = []

        def worker():
            c = g.Etcd(a.port)
            while True:
                item = q.get()
                if item is None:
                    q.task_done()
                    return
                try:
                    c.txn_put(*item)
                except Exception as ex:
                    errors.append(ex)
                q.task_done()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.writers)]
        for t in threads:
            t.start()
        target = int(a.value_gb * 1e9)
        written = 0
        batches = {0: [], ev_lease: []}
        sizes = {0: 0, ev_lease: 0}
        inbatch = {0: set(), ev_lease: set()}

        def put(k, v, lease=0):
            nonlocal written
            if errors:
                raise errors[0]
            if k in inbatch[lease]:  # one txn may name a key once
                q.put((batches[lease], lease))
                batches[lease], sizes[lease], inbatch[lease] = [], 0, set()
            batches[lease].append((k, v))
            inbatch[lease].add(k)
            sizes[lease] += len(k) + len(v)
            written += len(v)
            if sizes[lease] >= a.batch_kb * 1024:
                q.put((batches[lease], lease))
                batches[lease], sizes[lease], inbatch[lease] = [], 0, set()

        def flush():  # every write so far acknowledged by etcd
            for lease in batches:
                if batches[lease]:
                    q.put((batches[lease], lease))
                    batches[lease], sizes[lease], inbatch[lease] = [], 0, set()
            q.join()
            if errors:
                raise errors[0]

        weights = [w for *_, w in KINDS]
        live = []  # (key, (kind, name, ns))
        value_sizes = []
        t0 = time.time()
        last = t0
        base_ts = 1_700_000_000
        while written < target * 0.78:
            kind = rnd.choices(KINDS, weights)[0]
            k, ident = mk.new(kind)
            v = mk.value(kind, ident[1], ident[2], str(uuid.UUID(int=rnd.getrandbits(128))), base_ts + mk.seq)
            put(k, v, ev_lease if kind[0] == "core.v1.Event" else 0)
            live.append((k, ident))
            value_sizes.append(len(v))
            if time.time() - last > 30:
                last = time.time()
                print("%d objects, %.2f GB of values, %.1f MB/s" % (len(live), written / 1e9, written / 1e6 / (last - t0)), file=sys.stderr)
        creates = len(live)
        # history: objects written again (a new uid marks the new version), compacted at the midpoint
        updates = 0
        compacted = None
        while written < target:
            k, (kind, name, ns) = live[rnd.randrange(creates)]
            put(k, mk.value(kind, name, ns, str(uuid.UUID(int=rnd.getrandbits(128))), base_ts + mk.seq + updates),
                ev_lease if kind[0] == "core.v1.Event" else 0)
            updates += 1
            if time.time() - last > 30:
                last = time.time()
                print("%d written again, %.2f GB of values, %.1f MB/s" % (updates, written / 1e9, written / 1e6 / (last - t0)), file=sys.stderr)
            if compacted is None and written >= target * 0.89:
                flush()
                r = e.call("/v3/kv/range", {"key": base64.b64encode(b"/").decode(), "limit": "1"})
                compacted = int(r["header"]["revision"])
                # a physical compaction of GBs answers only when done: minutes, not the client's 60 s
                e.conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=3600)
                e.compact(compacted)
        flush()
        for _ in threads:
            q.put(None)
        for t in threads:
            t.join()
        deletes = rnd.sample(range(creates), creates // 50)
        keys = [live[i][0] for i in deletes]
        for i in range(0, len(keys), 500):
            e.txn_delete(keys[i:i + 500])
        r = e.call("/v3/kv/range", {"key": base64.b64encode(b"/").decode(), "limit": "1"})
        rev = int(r["header"]["revision"])
        dt = time.time() - t0
        value_sizes.sort()
        q50, q90, q99 = (value_sizes[int(len(value_sizes) * p)] for p in (0.5, 0.9, 0.99))
        print("created %d objects, wrote %d again (compacted at revision %s), deleted %d; %.2f GB of values; revision %d; "
              "%.0fs (%.1f MB/s); created values: median %d B, p90 %d B, p99 %d B, max %d B" % (
                  creates, updates, compacted, len(keys), written / 1e9, rev, dt, written / 1e6 / dt,
                  q50, q90, q99, value_sizes[-1]), file=sys.stderr)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    print("db %d bytes" % os.path.getsize(os.path.join(a.out, "member", "snap", "db")), file=sys.stderr)


if __name__ == "__main__":
    main()
