#!/usr/bin/env python3
"""Makes reshift's test data with a real etcd 3.4 (Debian's etcd-server and etcd-client).

    python3 testdata/make_testdata.py        # from the repository root; replaces the outputs

Outputs, all under testdata/:
  clean/        a data dir of a cleanly stopped member: creates, updates, deletes, txns (one
                whose compare fails, so its else-branch runs), a live lease with keys, a
                revoked lease, a compaction mid-history, snap files (low --snapshot-count)
  killed/       a member filled and stopped, then restarted with a 10-minute backend batch
                interval, given a burst of writes and SIGKILLed right after the last was
                acknowledged: its WAL holds committed entries its db never applied
  snapshot.db   `etcdctl snapshot save` of the clean member (db + sha256 trailer)
  expected/     what this script knows: revisions, compaction, acknowledged writes

Values are Kubernetes-shaped and built here: `k8s\\0` + runtime.Unknown around small
protobuf objects, JSON for custom resources, `k8s:enc:aescbc:v1:key1:` encrypted secrets,
and a few plain values. etcd preallocates the last WAL segment (64 MB) and the next one
(`wal/<n>.tmp`), and grows the db in 16 MB steps; after etcd stops, those all-zero parts are
removed (the WAL after its last whole record, the .tmp file, the db past its high-water
page), asserting that every removed byte is zero.
"""
import base64, http.client, json, os, random, shutil, signal, socket, struct, subprocess
import sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(20261124)

# --- protobuf encoding --------------------------------------------------------------------
def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b

def f_int(num, v):
    return varint(num << 3) + varint(v)

def f_map(num, d):
    return b"".join(f_bytes(num, f_bytes(1, k) + f_bytes(2, v)) for k, v in sorted(d.items()))

# Kubernetes field numbers used below (checked against the kubernetes/api fixtures):
# ObjectMeta: name 1, generateName 2, namespace 3, uid 5, resourceVersion 6, generation 7,
#   creationTimestamp 8, deletionTimestamp 9, deletionGracePeriodSeconds 10, labels 11,
#   annotations 12, ownerReferences 13, finalizers 14, managedFields 17.
# Time: seconds 1, nanos 2. OwnerReference: kind 1, name 3, uid 4, apiVersion 5,
#   controller 6, blockOwnerDeletion 7. ManagedFieldsEntry: manager 1, operation 2,
#   apiVersion 3, time 4, fieldsType 6, fieldsV1 7 (FieldsV1.Raw 1).
# Every object: metadata 1. ConfigMap: data 2. Secret: data 2, type 3. Namespace: status 3
#   (phase 1). Pod: spec 2 (containers 2 {name 1, image 2}, nodeName 10), status 3 (phase 1).
# Service: spec 2 (ports 1 {name 1, protocol 2, port 3}, selector 2, clusterIP 3, type 4).
# Endpoints: subsets 2 {addresses 1 {ip 1}, ports 3 {name 1, port 2, protocol 3}}.
# coordination/v1 Lease: spec 2 {holderIdentity 1, leaseDurationSeconds 2, renewTime 4}.
# Event: involvedObject 2 {kind 1, namespace 2, name 3, uid 4}, reason 3, message 4,
#   count 8, type 9. apps/v1 Deployment: spec 2 {replicas 1}.
# runtime.Unknown: typeMeta 1 {apiVersion 1, kind 2}, raw 2, contentEncoding 3, contentType 4.

def uid():
    return "%08x-%04x-%04x-%04x-%012x" % tuple(rnd.getrandbits(b) for b in (32, 16, 16, 16, 48))

def ktime(sec):
    return f_int(1, sec)

def object_meta(name, ns, created, labels=None, annotations=None, owner=None, finalizers=(),
                deleting=False, managed=False, generation=0):
    m = f_bytes(1, name)
    if ns:
        m += f_bytes(3, ns)
    m += f_bytes(5, uid())
    if generation:
        m += f_int(7, generation)
    m += f_bytes(8, ktime(created))
    if deleting:
        m += f_bytes(9, ktime(created + 3600)) + f_int(10, 30)
    m += f_map(11, labels or {})
    m += f_map(12, annotations or {})
    if owner:
        m += f_bytes(13, f_bytes(1, owner[0]) + f_bytes(3, owner[1]) + f_bytes(4, uid()) +
                     f_bytes(5, "apps/v1") + f_int(6, 1) + f_int(7, 1))
    for f in finalizers:
        m += f_bytes(14, f)
    if managed:
        m += f_bytes(17, f_bytes(1, "kube-controller-manager") + f_bytes(2, "Update") +
                     f_bytes(3, "v1") + f_bytes(4, ktime(created)) + f_bytes(6, "FieldsV1") +
                     f_bytes(7, f_bytes(1, b'{"f:metadata":{"f:labels":{".":{}}}}')))
    return m

def envelope(api_version, kind, body):
    return b"k8s\x00" + f_bytes(1, f_bytes(1, api_version) + f_bytes(2, kind)) + f_bytes(2, body) \
        + f_bytes(3, b"") + f_bytes(4, b"")

NAMESPACES = ["default", "kube-system", "prod", "staging", "team-a"]
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
BASE_TS = 1_750_000_000

def labels():
    return {"app": rnd.choice(WORDS), "tier": rnd.choice(["web", "db", "cache"])}

def make_object(kind, name, ns, seq):
    created = BASE_TS + seq
    meta_kw = dict(labels=labels(), managed=rnd.random() < 0.3)
    if rnd.random() < 0.3:
        meta_kw["annotations"] = {"reshift.test/note": " ".join(rnd.choice(WORDS) for _ in range(8))}
    if kind == "configmaps":
        data = {"k%d" % i: " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 30))) for i in range(rnd.randint(1, 6))}
        return envelope("v1", "ConfigMap", f_bytes(1, object_meta(name, ns, created, **meta_kw)) + f_map(2, data))
    if kind == "secrets":
        data = {"token": os.urandom(0) + bytes(rnd.getrandbits(8) for _ in range(48))}
        return envelope("v1", "Secret", f_bytes(1, object_meta(name, ns, created, **meta_kw)) +
                        f_map(2, data) + f_bytes(3, "Opaque"))
    if kind == "pods":
        c = f_bytes(1, "main") + f_bytes(2, "registry.example.com/%s:v1.%d" % (rnd.choice(WORDS), rnd.randint(0, 9)))
        spec = f_bytes(2, c) + f_bytes(10, "node-%d" % rnd.randint(1, 3))
        meta = object_meta(name, ns, created, owner=("ReplicaSet", "rs-" + name[:8]),
                           finalizers=["reshift.test/guard"] if seq % 17 == 0 else (),
                           deleting=seq % 41 == 0, **meta_kw)
        return envelope("v1", "Pod", f_bytes(1, meta) + f_bytes(2, spec) + f_bytes(3, f_bytes(1, "Running")))
    if kind == "services/specs":
        port = f_bytes(1, "http") + f_bytes(2, "TCP") + f_int(3, 80)
        spec = f_bytes(1, port) + f_map(2, {"app": rnd.choice(WORDS)}) + f_bytes(3, "10.96.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254))) + f_bytes(4, "ClusterIP")
        return envelope("v1", "Service", f_bytes(1, object_meta(name, ns, created, **meta_kw)) + f_bytes(2, spec))
    if kind == "services/endpoints":
        sub = f_bytes(1, f_bytes(1, "10.0.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254)))) + f_bytes(3, f_bytes(1, "http") + f_int(2, 8080) + f_bytes(3, "TCP"))
        return envelope("v1", "Endpoints", f_bytes(1, object_meta(name, ns, created, **meta_kw)) + f_bytes(2, sub))
    if kind == "leases":
        spec = f_bytes(1, "holder-%d" % rnd.randint(1, 3)) + f_int(2, 15) + f_bytes(4, ktime(created))
        return envelope("coordination.k8s.io/v1", "Lease", f_bytes(1, object_meta(name, ns, created, **meta_kw)) + f_bytes(2, spec))
    if kind == "events":
        ref = f_bytes(1, "Pod") + f_bytes(2, ns) + f_bytes(3, "pod-x") + f_bytes(4, uid())
        body = f_bytes(1, object_meta(name, ns, created)) + f_bytes(2, ref) + f_bytes(3, "Scheduled") + \
            f_bytes(4, "Successfully assigned pod to node") + f_int(8, rnd.randint(1, 9)) + f_bytes(9, "Normal")
        return envelope("v1", "Event", body)
    if kind == "deployments":
        return envelope("apps/v1", "Deployment", f_bytes(1, object_meta(name, ns, created, generation=1, **meta_kw)) + f_bytes(2, f_int(1, 3)))
    if kind == "namespaces":
        return envelope("v1", "Namespace", f_bytes(1, object_meta(name, "", created, **meta_kw)) + f_bytes(3, f_bytes(1, "Active")))
    if kind == "minions":
        return envelope("v1", "Node", f_bytes(1, object_meta(name, "", created, **meta_kw)))
    if kind == "example.com/widgets":
        obj = {"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": name, "namespace": ns, "uid": uid(), "generation": 1,
                            "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                            "labels": labels()},
               "spec": {"size": rnd.randint(1, 99), "color": rnd.choice(["red", "blue"])}}
        return (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    raise ValueError(kind)

KINDS = [("pods", 30), ("configmaps", 12), ("secrets", 8), ("leases", 8), ("services/specs", 5),
         ("services/endpoints", 5), ("deployments", 5), ("example.com/widgets", 6)]

def new_key(kind, seq):
    ns = rnd.choice(NAMESPACES)
    name = "%s-%05d" % (kind.split("/")[-1].rstrip("s"), seq)
    return "/registry/%s/%s/%s" % (kind, ns, name), name, ns

# --- etcd ---------------------------------------------------------------------------------
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

class Etcd:
    def __init__(self, data_dir, name, extra=()):
        self.port, peer = free_port(), free_port()
        self.log = open(data_dir.rstrip("/") + ".etcd.log", "a")
        self.proc = subprocess.Popen([
            "etcd", "--name", name, "--data-dir", data_dir,
            "--listen-client-urls", "http://127.0.0.1:%d" % self.port,
            "--advertise-client-urls", "http://127.0.0.1:%d" % self.port,
            "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-cluster", "%s=http://127.0.0.1:%d" % (name, peer),
            "--auto-compaction-retention", "0"] + list(extra), stdout=self.log, stderr=self.log)
        self.conn = None
        for _ in range(300):
            try:
                self.call("/v3/kv/range", {"key": b64(b"x")})
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("etcd did not start")

    def call(self, path, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            r = self.conn.getresponse()
            out = r.read()
        except Exception:
            self.conn = None
            raise
        if r.status != 200:
            raise RuntimeError("%s: %d %s" % (path, r.status, out[:200]))
        return json.loads(out)

    def put(self, k, v, lease=0):
        body = {"key": b64(k), "value": b64(v)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def delete(self, k):
        return int(self.call("/v3/kv/deleterange", {"key": b64(k)})["header"]["revision"])

    def txn(self, compare, success, failure):
        r = self.call("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure})
        return int(r["header"]["revision"]), bool(r.get("succeeded", False))

    def grant(self, ttl):
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def revoke(self, lid):
        return int(self.call("/v3/lease/revoke", {"ID": str(lid)})["header"]["revision"])

    def compact(self, rev):
        self.call("/v3/kv/compaction", {"revision": str(rev), "physical": True})

    def ctl(self, *args):
        env = dict(os.environ, ETCDCTL_API="3")
        return subprocess.run(["etcdctl", "--endpoints", "127.0.0.1:%d" % self.port] + list(args),
                              env=env, check=True, capture_output=True).stdout

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait()

def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()

# --- workloads ----------------------------------------------------------------------------
class Writer:
    def __init__(self, e):
        self.e, self.live, self.seq, self.acked = e, {}, 0, []
        # Keys written by fixed_keys (namespaces, nodes, ...) stay out of random updates.
        self.fixed = set()

    def pool(self):
        return sorted(k for k in self.live if k not in self.fixed)

    def create(self, lease=0, kind=None):
        self.seq += 1
        kind = kind or rnd.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        key, name, ns = new_key(kind, self.seq)
        v = make_object(kind, name, ns, self.seq)
        rev = self.e.put(key, v, lease)
        self.live[key] = v
        self.acked.append({"op": "put", "key": key, "revision": rev})
        return key

    def update(self):
        key = rnd.choice(self.pool())
        kind = key.split("/")[2] if not key.split("/")[2].startswith(("services", "example")) else "/".join(key.split("/")[2:4])
        self.seq += 1
        parts = key.rsplit("/", 2)
        v = make_object(kind, parts[2], parts[1], self.seq) if kind in dict(KINDS) else b"updated-%d" % self.seq
        rev = self.e.put(key, v)
        self.live[key] = v
        self.acked.append({"op": "put", "key": key, "revision": rev})

    def delete(self):
        key = rnd.choice(self.pool())
        rev = self.e.delete(key)
        del self.live[key]
        self.acked.append({"op": "delete", "key": key, "revision": rev})

    def txn(self, succeed):
        a, b = rnd.sample(self.pool(), 2)
        target = "999999" if not succeed else "0"
        cmp = [{"key": b64(a), "target": "VERSION", "result": "GREATER", "version": target}]
        va, vb = b"txn-then-%d" % self.seq, b"txn-else-%d" % self.seq
        ok_ops = [{"requestPut": {"key": b64(a), "value": b64(va)}}, {"requestPut": {"key": b64(b), "value": b64(va)}}]
        else_ops = [{"requestPut": {"key": b64(b), "value": b64(vb)}}, {"requestDeleteRange": {"key": b64(a)}}]
        rev, took = self.e.txn(cmp, ok_ops, else_ops)
        assert took == succeed, "txn branch"
        if took:
            self.live[a] = self.live[b] = va
        else:
            self.live[b] = vb
            del self.live[a]
        self.acked.append({"op": "txn", "keys": [a, b], "succeeded": took, "revision": rev})

    def mix(self, n):
        for i in range(n):
            r = rnd.random()
            if r < 0.45 or len(self.pool()) < 20:
                self.create()
            elif r < 0.85:
                self.update()
            elif r < 0.96:
                self.delete()
            else:
                self.txn(succeed=rnd.random() < 0.5)

def fixed_keys(e, w):
    before = set(w.live)
    for i, ns in enumerate(NAMESPACES):
        k = "/registry/namespaces/" + ns
        v = make_object("namespaces", ns, "", i)
        w.acked.append({"op": "put", "key": k, "revision": e.put(k, v)})
        w.live[k] = v
    for n in range(1, 4):
        k = "/registry/minions/node-%d" % n
        v = make_object("minions", "node-%d" % n, "", n)
        w.acked.append({"op": "put", "key": k, "revision": e.put(k, v)})
        w.live[k] = v
    plain = {"/registry/ranges/serviceips": envelope("v1", "RangeAllocation", f_bytes(2, "10.96.0.0/12")),
             "/registry/masterleases/10.0.0.1": envelope("v1", "Endpoints", f_bytes(1, object_meta("10.0.0.1", "", 1))),
             "/other/plain": b"hello"}
    for k, v in plain.items():
        w.acked.append({"op": "put", "key": k, "revision": e.put(k, v)})
        w.live[k] = v
    w.fixed |= set(w.live) - before

# --- trimming preallocated zero tails -----------------------------------------------------
def trim_wal(wal_dir):
    # etcd preallocates the next segment as "<n>.tmp": all zeros, not part of the log.
    for f in os.listdir(wal_dir):
        if f.endswith(".tmp"):
            p = os.path.join(wal_dir, f)
            with open(p, "rb") as fh:
                while True:
                    chunk = fh.read(1 << 20)
                    if not chunk:
                        break
                    assert not any(chunk), "non-zero bytes in preallocated " + p
            os.remove(p)
    last = sorted(f for f in os.listdir(wal_dir) if f.endswith(".wal"))[-1]
    path = os.path.join(wal_dir, last)
    data = open(path, "rb").read()
    off = 0
    while off + 8 <= len(data):
        word = struct.unpack_from("<Q", data, off)[0]
        if word == 0:
            break
        length = word & ((1 << 56) - 1)
        pad = (word >> 56) & 0x7 if word >> 63 else 0
        end = off + 8 + length + pad
        if end > len(data):
            break
        off = end
    assert not any(data[off:]), "non-zero bytes after the last whole WAL record in " + path
    os.truncate(path, off)

def trim_db(path):
    data = open(path, "rb").read()
    metas = []
    for off in (0, struct.unpack_from("<I", data, 24)[0]):
        magic, version, ps = struct.unpack_from("<III", data, off + 16)
        if magic == 0xED0CDAED:
            hwm, txid = struct.unpack_from("<QQ", data, off + 16 + 40)
            metas.append((txid, hwm * ps))
    end = max(metas)[1]
    assert end <= len(data) and not any(data[end:]), "non-zero bytes past the high-water mark"
    os.truncate(path, end)

# --- the data sets ------------------------------------------------------------------------
def make_clean(out, tmp):
    d = os.path.join(tmp, "clean")
    e = Etcd(d, "clean", ["--snapshot-count", "400"])
    w = Writer(e)
    fixed_keys(e, w)
    w.mix(500)
    live_lease = e.grant(86400)
    for _ in range(4):
        w.create(lease=live_lease, kind="events")
    doomed = e.grant(86400)
    doomed_keys = [w.create(lease=doomed, kind="events") for _ in range(5)]
    rev = e.revoke(doomed)
    for k in doomed_keys:
        w.live.pop(k)
    w.acked.append({"op": "lease_revoke", "keys": doomed_keys, "revision": rev})
    w.txn(succeed=True)
    w.txn(succeed=False)
    w.mix(400)
    compact_rev = w.acked[-1]["revision"]
    e.compact(compact_rev)
    w.mix(500)
    # Encrypted-at-rest secrets (two providers), and values larger than a page (so the db
    # holds overflow pages), written last so no random update replaces them.
    for i, provider in enumerate(["aescbc:v1:key1", "aescbc:v1:key1", "kms:v2:vault-kms"]):
        k = "/registry/secrets/prod/encrypted-%d" % i
        v = b"k8s:enc:" + provider.encode() + b":" + bytes(rnd.getrandbits(8) for _ in range(160 + 16 * i))
        w.acked.append({"op": "put", "key": k, "revision": e.put(k, v)})
        w.live[k] = v
    for i in range(2):
        k = "/registry/configmaps/prod/large-%d" % i
        v = envelope("v1", "ConfigMap", f_bytes(1, object_meta("large-%d" % i, "prod", 5)) +
                     f_map(2, {"blob": "".join(rnd.choice("abcdefgh") for _ in range(20000))}))
        w.acked.append({"op": "put", "key": k, "revision": e.put(k, v)})
        w.live[k] = v
    final = e.put("/other/last", b"done")
    w.live["/other/last"] = b"done"
    e.ctl("snapshot", "save", os.path.join(tmp, "snapshot.db"))
    served = e.ctl("get", "", "--prefix", "-w", "json")
    e.stop()
    expected = {"revision": final, "compact_revision": compact_rev, "live_keys": len(w.live),
                "live_lease": live_lease, "revoked_lease": doomed}
    return d, expected, served

def make_killed(tmp):
    d = os.path.join(tmp, "killed")
    e = Etcd(d, "killed")
    w = Writer(e)
    fixed_keys(e, w)
    w.mix(200)
    e.stop()
    db_revision = w.acked[-1]["revision"]
    e = Etcd(d, "killed", ["--backend-batch-interval", "10m", "--backend-batch-limit", "100000000",
                           "--snapshot-count", "1000000"])
    w.e = e
    first = len(w.acked)
    lid = e.grant(86400)
    lk = [w.create(lease=lid, kind="events") for _ in range(3)]
    rev = e.revoke(lid)
    for k in lk:
        w.live.pop(k)
    w.acked.append({"op": "lease_revoke", "keys": lk, "revision": rev})
    w.mix(1600)
    w.txn(succeed=True)
    w.txn(succeed=False)
    e.stop(signal.SIGKILL)
    return d, {"db_revision_before_burst": db_revision, "last_acked_revision": w.acked[-1]["revision"],
               "live_keys": len(w.live), "burst": w.acked[first:]}

def main():
    if not shutil.which("etcd") or not shutil.which("etcdctl"):
        sys.exit("make_testdata.py: needs etcd 3.4: apt-get install -y etcd-server etcd-client")
    tmp = tempfile.mkdtemp(prefix="reshift-testdata-")
    try:
        clean, exp_clean, served = make_clean(HERE, tmp)
        killed, exp_killed = make_killed(tmp)
        for d in (clean, killed):
            trim_wal(os.path.join(d, "member", "wal"))
            trim_db(os.path.join(d, "member", "snap", "db"))
        for name in ("clean", "killed", "snapshot.db", "expected"):
            p = os.path.join(HERE, name)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
        shutil.copytree(clean, os.path.join(HERE, "clean"))
        shutil.copytree(killed, os.path.join(HERE, "killed"))
        shutil.copy(os.path.join(tmp, "snapshot.db"), os.path.join(HERE, "snapshot.db"))
        os.makedirs(os.path.join(HERE, "expected"))
        json.dump(exp_clean, open(os.path.join(HERE, "expected", "clean.json"), "w"), indent=1)
        json.dump(exp_killed, open(os.path.join(HERE, "expected", "killed.json"), "w"), indent=1)
        open(os.path.join(HERE, "expected", "clean.etcdctl.json"), "wb").write(served)
        print("clean: revision %(revision)d, compacted at %(compact_revision)d, %(live_keys)d live keys" % exp_clean)
        print("killed: last acknowledged revision %d, %d writes in the burst" % (exp_killed["last_acked_revision"], len(exp_killed["burst"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
