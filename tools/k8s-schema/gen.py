#!/usr/bin/env python3
"""Writes proto/k8s/*.proto: reshift's schemas of the Kubernetes built-in kinds, per release.

    python3 tools/k8s-schema/gen.py API APIMACHINERY APIEXTENSIONS AGGREGATOR [--head]

The four arguments are git directories (bare clones, for example those `fetch` brings) of
kubernetes/api, kubernetes/apimachinery, kubernetes/apiextensions-apiserver and
kubernetes/kube-aggregator. Their Go API types are read from the `protobuf:"..."` and
`json:"..."` struct tags: the wire facts (message names, field numbers, wire types) and the
JSON facts (field names, omitempty, omitzero, inline, pointer or not, Go field order).

Releases: reshift reproduces the apiserver of every Kubernetes minor from 1.27 to 1.37, so
each of them is read on its own. Minor 1.M is read at the newest patch tag v0.M.x of the
staging repositories (pinned in TAGS, so that regenerating gives the same files; a
repository without that tag falls back to its newest v0.M.x, and a newer patch than the
pinned one is reported). 1.37 is not released: it is read at master, pinned in MASTER
(the kubernetes/api commit is the one Kubernetes' own round-trip fixtures in
../shared/k8s-api-testdata/HEAD come from). master, not v0.37.0-beta.0: no release-1.37
branch exists yet, so 1.37.0 will be cut from master; the beta tag, days older, already
lacks types and fields master has (lifecycle.k8s.io/v1alpha1, CSINode.status, ...), and the
HEAD fixtures hold them. `--head` reads 1.37 at each repository's HEAD instead and prints
the commits to pin.

The releases are then united: every message and field any release has is in the schema
(so that anything any release wrote is decoded), and each field carries, as options from
proto/k8s/options.proto, the releases that have it and the releases in which it is
omitempty, omitzero and a pointer (bit i is 1.(27+i)); a message lacking in some releases
says which have it. Fields keep Go field order (a field an older release had sits where
that release had it). A field number whose JSON name, type or inline-ness differs between
releases is reported; the newest release's form is kept.

Types whose JSON is not their fields (a MarshalJSON of their own) get a `render` option
that render.rs implements: apimachinery's Time, Duration, Quantity, IntOrString, ... are
described in SPECIAL (their Go types have no protobuf tags); apiextensions' JSON and
JSONSchemaPropsOr{Array,Bool,StringArray} in RENDER, with their fields read from their tags
and checked against what render.rs expects (RENDER_FIELDS). The output holds facts only;
nothing of the Go sources is copied.
"""
import os
import re
import subprocess
import sys
from collections import OrderedDict

FIRST_MINOR, LAST_MINOR = 27, 37
ALL = (1 << (LAST_MINOR - FIRST_MINOR + 1)) - 1
REPOS = ["api", "apimachinery", "apiextensions-apiserver", "kube-aggregator"]
# The newest patch of each released minor when the schemas were generated.
TAGS = {27: "v0.27.16", 28: "v0.28.15", 29: "v0.29.15", 30: "v0.30.14", 31: "v0.31.14",
        32: "v0.32.13", 33: "v0.33.13", 34: "v0.34.10", 35: "v0.35.7", 36: "v0.36.3"}
# 1.37, unreleased: master at these commits.
MASTER = {
    "api": "10b39a39bcee995dfe7cd5e8e7b922be5e46f1e2",
    "apimachinery": "eed236ceee2c19c2753a3d93ac0631dc20750454",
    "apiextensions-apiserver": "1aa2717a552ee6ca1e2a18f1f8ffccde981db923",
    "kube-aggregator": "232ca687ab24bc9f9a378cba74716b5f7d6b82eb",
}
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "proto", "k8s")

# apimachinery packages read (their types appear in the API types)
MACHINERY = {
    "k8s.io/apimachinery/pkg/apis/meta/v1": "pkg/apis/meta/v1",
    "k8s.io/apimachinery/pkg/runtime": "pkg/runtime",
    "k8s.io/apimachinery/pkg/util/intstr": "pkg/util/intstr",
    "k8s.io/apimachinery/pkg/api/resource": "pkg/api/resource",
    "k8s.io/apimachinery/pkg/types": "pkg/types",
}
EXTENSIONS = "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/"
AGGREGATOR = "k8s.io/kube-aggregator/pkg/apis/apiregistration/"
# API packages outside kubernetes/api: repository -> (directory, Go package path)
EXTRA = {
    "apiextensions-apiserver": [("pkg/apis/apiextensions/" + v, EXTENSIONS + v) for v in ("v1", "v1beta1")],
    "kube-aggregator": [("pkg/apis/apiregistration/" + v, AGGREGATOR + v) for v in ("v1", "v1beta1")],
}

# Messages whose JSON form is not their fields and whose Go type has no protobuf tags:
# (go package, type) -> (render, fields)
SPECIAL = {
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Time"): ("time", [("seconds", 1, "int64"), ("nanos", 2, "int32")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "MicroTime"): ("microtime", [("seconds", 1, "int64"), ("nanos", 2, "int32")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Duration"): ("duration", [("duration", 1, "int64")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "FieldsV1"): ("rawjson", [("Raw", 1, "bytes")]),
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): ("rawjson", [("raw", 1, "bytes")]),
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): ("intorstring", [("type", 1, "int64"), ("intVal", 2, "int32"), ("strVal", 3, "string")]),
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): ("quantity", [("string", 1, "string")]),
}

# Messages with a MarshalJSON of their own whose fields are read from their protobuf tags
# (their JSON tags say "-" or nothing): (go package, type) -> render. apiextensions' JSON is
# its raw bytes ("null" when empty), as RawExtension; the three unions are written as one
# of their members (see render.rs).
RENDER = {}
for _v in ("v1", "v1beta1"):
    RENDER[(EXTENSIONS + _v, "JSON")] = "rawjson"
    RENDER[(EXTENSIONS + _v, "JSONSchemaPropsOrArray")] = "schemaorarray"
    RENDER[(EXTENSIONS + _v, "JSONSchemaPropsOrBool")] = "schemaorbool"
    RENDER[(EXTENSIONS + _v, "JSONSchemaPropsOrStringArray")] = "schemaorstringarray"

# The fields render.rs expects of each render kind: number -> (label, proto type or "message")
RENDER_FIELDS = {
    "rawjson": {1: ("optional", "bytes")},
    "schemaorarray": {1: ("optional", "message"), 2: ("repeated", "message")},
    "schemaorbool": {1: ("optional", "bool"), 2: ("optional", "message")},
    "schemaorstringarray": {1: ("optional", "message"), 2: ("repeated", "string")},
}

SCALARS = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool",
           "float64": "double", "float32": "float", "uint32": "uint32", "uint64": "uint64",
           "int": "int64", "byte": "uint32"}


class Repo:
    """A git directory, read through one `git cat-file --batch`."""

    def __init__(self, gitdir):
        self.gitdir = gitdir
        self.cat = subprocess.Popen(["git", "--git-dir", gitdir, "cat-file", "--batch"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def git(self, *args):
        r = subprocess.run(["git", "--git-dir", self.gitdir, *args], capture_output=True)
        return r.stdout.decode() if r.returncode == 0 else None

    def show(self, ref, path):
        self.cat.stdin.write(f"{ref}:{path}\n".encode())
        self.cat.stdin.flush()
        head = self.cat.stdout.readline().split()
        if len(head) != 3:
            return None
        data = self.cat.stdout.read(int(head[2]))
        self.cat.stdout.read(1)
        return data.decode()

    def has(self, ref):
        return self.git("rev-parse", "--verify", "-q", ref + "^{commit}") is not None

    def patches(self, minor):
        """The released patch tags v0.MINOR.N, oldest first."""
        tags = (self.git("tag", "-l", f"v0.{minor}.*") or "").split()
        tags = [t for t in tags if re.fullmatch(rf"v0\.{minor}\.\d+", t)]
        return sorted(tags, key=lambda t: int(t.rsplit(".", 1)[1]))


def release_refs(repos, minor, head, notes):
    """The ref each repository is read at for 1.MINOR."""
    refs = {}
    for name, repo in repos.items():
        if minor == LAST_MINOR:
            refs[name] = "HEAD" if head else MASTER[name]
            continue
        have = repo.patches(minor)
        tag = TAGS[minor]
        if tag not in have:
            if not have:
                sys.exit(f"{name}: no v0.{minor}.x tag")
            notes.add(f"{name} has no {tag}: 1.{minor} read at {have[-1]}")
            tag = have[-1]
        elif have[-1] != tag:
            notes.add(f"{name} has {have[-1]}, newer than the pinned {tag}")
        refs[name] = tag
    return refs


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # a // inside a backquoted tag or string never occurs in API types; cut the rest
        i = line.find("//")
        if i >= 0 and line.count("`", 0, i) % 2 == 0 and line.count('"', 0, i) % 2 == 0:
            line = line[:i]
        out.append(line.rstrip())
    return out


class Pkg:
    def __init__(self, path):
        self.path = path
        self.group = None
        self.structs = OrderedDict()  # name -> [field dict]
        self.named = {}  # name -> underlying type expression
        self.nullable = set()  # named slices written as a message holding the items
        self.imports = {}  # per struct: alias map (types from several files)


def parse_file(pkg, text):
    for m in re.finditer(r"\+protobuf\.nullable=true[^\n]*\n(?:\s*//[^\n]*\n)*\s*type\s+(\w+)", text):
        pkg.nullable.add(m.group(1))
    lines = strip_comments(text)
    imports = {}
    i = 0
    m = re.search(r'GroupName\s*=\s*"([^"]*)"', text)
    if m:
        pkg.group = m.group(1)
    in_group = False
    while i < len(lines):
        ln = lines[i].strip()
        if ln.startswith("import ("):
            i += 1
            while lines[i].strip() != ")":
                parse_import(lines[i].strip(), imports)
                i += 1
        elif ln.startswith("import "):
            parse_import(ln[len("import "):], imports)
        elif ln == "type (":
            in_group = True
        elif in_group and ln == ")":
            in_group = False
        else:
            m = re.match(r"^(?:type\s+)?([A-Za-z_]\w*)\s+struct\s*\{(\})?$", ln)
            if m and (in_group or ln.startswith("type ")):
                name = m.group(1)
                body = []
                if not m.group(2):
                    depth = 1
                    i += 1
                    while i < len(lines):
                        t = lines[i].strip()
                        depth += t.count("{") - t.count("}")
                        if depth <= 0:
                            break
                        body.append(t)
                        i += 1
                pkg.structs[name] = (parse_fields(body), imports)
            else:
                m = re.match(r"^(?:type\s+)?([A-Za-z_]\w*)\s*=?\s*([\*\[\]\w\.]+(?:\])?[\w\.\*\[\]]*)$", ln)
                if m and (in_group or ln.startswith("type ")) and not ln.endswith("interface{}"):
                    pkg.named[m.group(1)] = (m.group(2), imports)
        i += 1


def parse_import(s, imports):
    m = re.match(r'^(?:([\w\.]+)\s+)?"([^"]+)"$', s)
    if not m:
        return
    alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
    imports[alias] = m.group(2)


def parse_tag(tag, key):
    m = re.search(key + r':"([^"]*)"', tag)
    return m.group(1) if m else None


def parse_fields(body):
    fields = []
    for t in body:
        if not t:
            continue
        m = re.match(r"^(.*?)\s*(`[^`]*`)?$", t)
        head, tag = m.group(1).split(), m.group(2) or ""
        if len(head) == 1:
            typ, name, embedded = head[0], head[0].lstrip("*").split(".")[-1], True
        elif len(head) == 2:
            name, typ, embedded = head[0], head[1], False
        else:
            continue
        fields.append({"name": name, "type": typ, "embedded": embedded,
                       "json": parse_tag(tag, "json"), "proto": parse_tag(tag, "protobuf")})
    return fields


def load(repo, ref, dirs):
    pkgs = {}
    for d, gopath in dirs:
        names = repo.git("ls-tree", "--name-only", ref, d + "/")
        if names is None:
            continue
        pkg = Pkg(gopath)
        for f in names.split():
            if not f.endswith(".go") or f.endswith("_test.go") or "/zz_generated" in f or f.endswith("generated.pb.go"):
                continue
            parse_file(pkg, repo.show(ref, f) or "")
        if pkg.structs or pkg.named:
            pkgs[gopath] = pkg
    return pkgs


def release_packages(repos, refs):
    """Every Go package of one release that the schemas read."""
    api, ref = repos["api"], refs["api"]
    tree = api.git("ls-tree", "-d", "-r", "--name-only", ref)
    dirs = [(d, "k8s.io/api/" + d) for d in tree.split() if re.match(r"^[a-z]+/v\d+((alpha|beta)\d+)?$", d)]
    pkgs = load(api, ref, dirs)
    pkgs.update(load(repos["apimachinery"], refs["apimachinery"], [(d, gp) for gp, d in MACHINERY.items()]))
    for name, dirs in EXTRA.items():
        pkgs.update(load(repos[name], refs[name], dirs))
    return pkgs


def served(gopath):
    """A package whose kinds are served (every message of it is in the schemas)."""
    return (gopath.startswith("k8s.io/api/") or gopath.endswith("/meta/v1")
            or gopath.startswith(EXTENSIONS) or gopath.startswith(AGGREGATOR))


def proto_pkg(gopath):
    if gopath.startswith("k8s.io/api/"):
        return "k8s.api." + gopath[len("k8s.io/api/"):].replace("/", ".")
    if gopath.startswith("k8s.io/apimachinery/"):
        tail = gopath.rsplit("/pkg/", 1)[1]
        return "k8s.apimachinery." + tail.replace("apis/", "").replace("util/", "").replace("api/", "").replace("/", ".")
    # apiextensions-apiserver, kube-aggregator: k8s.<group package>.<version>
    return "k8s." + gopath.split("/pkg/apis/", 1)[1].replace("/", ".")


class Gen:
    """The messages of one release: every struct of a served package, and every type they use."""

    def __init__(self, pkgs):
        self.pkgs = pkgs
        self.msgs = OrderedDict()  # (gopath, name) -> dict(render, type_meta, fields)
        self.todo = []
        self.problems = []

    def resolve(self, gopath, imports, expr):
        """Returns a type description dict for a Go type expression."""
        if expr.startswith("*"):
            d = dict(self.resolve(gopath, imports, expr[1:]))
            d["pointer"] = True
            return d
        if expr == "[]byte":
            return {"kind": "scalar", "proto": "bytes"}
        if expr.startswith("[]"):
            return {"kind": "list", "elem": self.resolve(gopath, imports, expr[2:])}
        if expr.startswith("map["):
            depth, j = 0, 3
            for j in range(3, len(expr)):
                depth += {"[": 1, "]": -1}.get(expr[j], 0)
                if depth == 0:
                    break
            return {"kind": "map", "key": self.resolve(gopath, imports, expr[4:j]),
                    "val": self.resolve(gopath, imports, expr[j + 1:])}
        if expr in SCALARS:
            return {"kind": "scalar", "proto": SCALARS[expr]}
        if expr == "time.Duration":
            return {"kind": "scalar", "proto": "int64"}
        if "." in expr:
            alias, name = expr.split(".", 1)
            target = imports.get(alias)
            if target is None:
                self.problems.append(f"{gopath}: unknown import {alias} in {expr}")
                return {"kind": "scalar", "proto": "bytes"}
        else:
            target, name = gopath, expr
        if (target, name) in SPECIAL:
            return self.message(target, name)
        pkg = self.pkgs.get(target)
        if pkg is None:
            self.problems.append(f"no package {target} for {expr}")
            return {"kind": "scalar", "proto": "bytes"}
        if name in pkg.structs:
            return self.message(target, name)
        if name in pkg.named:
            sub, subimports = pkg.named[name]
            d = dict(self.resolve(target, subimports, sub))
            d["named"] = (target, name)
            return d
        self.problems.append(f"unresolved type {expr} in {gopath}")
        return {"kind": "scalar", "proto": "bytes"}

    def message(self, gopath, name):
        key = (gopath, name)
        if key not in self.msgs:
            self.msgs[key] = None
            self.todo.append(key)
        return {"kind": "message", "ref": key}

    def is_wrapper(self, t):
        named = t.get("named")
        return bool(named) and named[1] in self.pkgs[named[0]].nullable

    def wrapper(self, named, elem):
        """A named slice type used as one field: a message whose field 1 repeats the elements."""
        key = (named[0], named[1])
        if key not in self.msgs or self.msgs[key] is None:
            self.msgs[key] = {"render": "items", "type_meta": False, "fields": [
                field("items", 1, "repeated", elem, "items")]}
        return {"kind": "message", "ref": key}

    def build(self, gopath, name):
        key = (gopath, name)
        if key in SPECIAL:
            render, fs = SPECIAL[key]
            self.msgs[key] = {"render": render, "type_meta": False, "fields": [
                field(n, num, "optional", {"kind": "scalar", "proto": t}, n, omitempty=True)
                for n, num, t in fs]}
            return
        render = RENDER.get(key)
        fields, imports = self.pkgs[gopath].structs[name]
        out = []
        for f in fields:
            if not f["proto"]:
                if f["json"] not in (None, "-", "", ",inline") and not f["json"].startswith(",inline"):
                    self.problems.append(f"{gopath}.{name}.{f['name']}: json field without protobuf tag")
                continue
            ptag = f["proto"].split(",")
            if ptag[0] == "-" or len(ptag) < 3:
                continue
            num = int(ptag[1])
            pname = next((p[5:] for p in ptag if p.startswith("name=")), f["name"])
            jparts = (f["json"] or "").split(",")
            jname = jparts[0]
            if jname == "-":
                if not render:
                    continue
                # a type with a MarshalJSON of its own: its JSON is not its fields'
                jname = pname
            inline = jname == "" and (f["embedded"] or "inline" in jparts)
            if jname == "" and not inline:
                jname = f["name"]
            t = self.resolve(gopath, imports, f["type"])
            label = "optional"
            # the Go type, not the tag's opt/rep (which is not always right), decides the label
            if t["kind"] == "list":
                if self.is_wrapper(t):
                    ptr = t.get("pointer", False)
                    t = self.wrapper(t["named"], t["elem"])
                    t["pointer"] = ptr
                else:
                    label, t = "repeated", t["elem"]
            if t["kind"] == "map":
                v = t["val"]
                if v["kind"] == "list":
                    if self.is_wrapper(v):
                        t = dict(t, val=self.wrapper(v["named"], v["elem"]))
                    else:
                        self.problems.append(f"{gopath}.{name}.{f['name']}: map of plain slices")
            out.append(field(pname, num, label, t, jname,
                             omitempty="omitempty" in jparts[1:], omitzero="omitzero" in jparts[1:],
                             inline=inline, pointer=f["type"].startswith("*")))
        type_meta = any(f["embedded"] and f["type"].split(".")[-1] == "TypeMeta" for f in fields)
        self.msgs[key] = {"render": render, "type_meta": type_meta, "fields": out}

    def run(self):
        for gopath, pkg in self.pkgs.items():
            if not served(gopath):
                continue
            for name, (fields, _) in pkg.structs.items():
                if any(f["proto"] for f in fields):
                    self.message(gopath, name)
        while self.todo:
            key = self.todo.pop(0)
            if self.msgs.get(key) is None:
                self.build(*key)


def field(proto_name, num, label, t, json, omitempty=False, omitzero=False, inline=False, pointer=False):
    return {"proto_name": proto_name, "num": num, "label": label, "type": t, "json": json,
            "omitempty": omitempty, "omitzero": omitzero, "inline": inline, "pointer": pointer}


def span(mask):
    """A release mask as text: "1.27-1.33, 1.35"."""
    runs, i = [], 0
    n = LAST_MINOR - FIRST_MINOR + 1
    while i < n:
        if mask >> i & 1:
            j = i
            while j + 1 < n and mask >> (j + 1) & 1:
                j += 1
            a, b = FIRST_MINOR + i, FIRST_MINOR + j
            runs.append(f"1.{a}" if a == b else f"1.{a}-1.{b}")
            i = j + 1
        else:
            i += 1
    return ", ".join(runs) or "none"


def unite(releases, notes):
    """One schema for every release: the messages and fields any of them has, each with the
    releases that have it and, per release, its JSON rules. `releases` is [(minor, msgs)]."""
    out = OrderedDict()
    forms = {}  # (message key, num) -> {form: mask}, to report fields whose form changed
    for minor, msgs in sorted(releases, key=lambda r: -r[0]):
        bit = 1 << (minor - FIRST_MINOR)
        for key, m in msgs.items():
            if m is None:
                continue
            u = out.get(key)
            if u is None:
                u = out[key] = {"render": m["render"], "type_meta": m["type_meta"], "releases": 0, "fields": []}
            elif (u["render"], u["type_meta"]) != (m["render"], m["type_meta"]):
                notes.add(f"{key[0]}.{key[1]}: written differently in 1.{minor} (newest kept)")
            u["releases"] |= bit
            prev = -1  # where this release's previous field sits in the union
            for f in m["fields"]:
                i = next((i for i, g in enumerate(u["fields"]) if g["num"] == f["num"]), None)
                if i is None:
                    i = prev + 1
                    u["fields"].insert(i, dict(f, releases=0, omitempty=0, omitzero=0, pointer=0))
                g = u["fields"][i]
                form = (f["json"], f["label"], type_name(f["type"], key[0]), f["inline"])
                seen = forms.setdefault((key, f["num"]), OrderedDict())
                seen[form] = seen.get(form, 0) | bit
                g["releases"] |= bit
                for fact in ("omitempty", "omitzero", "pointer"):
                    if f[fact]:
                        g[fact] |= bit
                prev = max(prev, i)
    for (key, num), seen in forms.items():
        if len(seen) > 1:
            what = "; ".join(f"{span(mask)}: json {j!r} {label} {t}{' inline' if inl else ''}"
                             for (j, label, t, inl), mask in seen.items())
            notes.add(f"{key[0]}.{key[1]} field {num} changed ({what}); the newest form is kept")
    # Go field order: the union must list each release's fields in that release's order.
    for minor, msgs in releases:
        bit = 1 << (minor - FIRST_MINOR)
        for key, m in msgs.items():
            if m is None:
                continue
            mine = [f["num"] for f in m["fields"]]
            ours = [g["num"] for g in out[key]["fields"] if g["releases"] & bit]
            if mine != ours:
                notes.add(f"{key[0]}.{key[1]}: 1.{minor} orders its fields {mine}, the schema {ours}")
    # A proto name or JSON name two field numbers share (one retired, one added) is told
    # apart by number; report it.
    for key, u in out.items():
        for attr in ("proto_name", "json"):
            seen = {}
            for g in u["fields"]:
                if g[attr] in seen and not g["inline"]:
                    notes.add(f"{key[0]}.{key[1]}: {attr} {g[attr]!r} on fields {seen[g[attr]]} and {g['num']}")
                    if attr == "proto_name":
                        g["proto_name"] = f"{g['proto_name']}_{g['num']}"
                seen[g[attr]] = g["num"]
    return out


def check_renders(msgs):
    for (gopath, name), m in msgs.items():
        want = RENDER_FIELDS.get(m["render"])
        if want is None:
            continue
        got = {f["num"]: (f["label"], "message" if f["type"]["kind"] == "message" else f["type"].get("proto"))
               for f in m["fields"]}
        if got != want:
            sys.exit(f"{gopath}.{name}: render {m['render']} expects fields {want}, the Go type has {got}")


def type_name(t, here):
    if t["kind"] == "scalar":
        return t["proto"]
    if t["kind"] == "message":
        gopath, name = t["ref"]
        return name if gopath == here else "." + proto_pkg(gopath) + "." + name
    if t["kind"] == "map":
        return f"map<{type_name(t['key'], here)}, {type_name(t['val'], here)}>"
    raise ValueError(t)


def refs(t):
    if t["kind"] == "message":
        yield t["ref"][0]
    elif t["kind"] == "map":
        yield from refs(t["key"])
        yield from refs(t["val"])


def file_name(gopath):
    return proto_pkg(gopath)[len("k8s."):] + ".proto"


def write(msgs, groups):
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".proto") and f != "options.proto":
            os.remove(os.path.join(OUT, f))
    by_pkg = OrderedDict()
    for (gopath, name), m in sorted(msgs.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        by_pkg.setdefault(gopath, []).append((name, m))
    for gopath, items in by_pkg.items():
        deps = sorted({r for _, m in items for f in m["fields"] for r in refs(f["type"]) if r != gopath})
        lines = ["// Generated by tools/k8s-schema/gen.py from the Go struct tags of " + gopath + ",",
                 f"// Kubernetes 1.{FIRST_MINOR} to 1.{LAST_MINOR}. Wire facts and JSON facts only; regenerate rather than edit.",
                 "// Release masks: bit i is 1.(27+i).",
                 'syntax = "proto2";', "", f"package {proto_pkg(gopath)};", "",
                 'import "k8s/options.proto";']
        lines += [f'import "k8s/{file_name(d)}";' for d in deps]
        lines.append("")
        if gopath in groups:
            lines.append(f'option (reshift.k8s.api_group) = "{groups[gopath]}";')
            lines.append(f'option (reshift.k8s.api_version) = "{gopath.rsplit("/", 1)[1]}";')
            lines.append("")
        for name, m in items:
            lines.append(f"message {name} {{")
            if m["releases"] != ALL:
                lines.append(f"  option (reshift.k8s.message_releases) = {m['releases']:#x};  // {span(m['releases'])}")
            if m["render"]:
                lines.append(f'  option (reshift.k8s.render) = "{m["render"]}";')
            if m["type_meta"]:
                lines.append("  option (reshift.k8s.type_meta) = true;")
            for f in m["fields"]:
                opts, told = [], []
                if f["json"] != f["proto_name"]:
                    opts.append(f'json_name = "{f["json"]}"')
                if f["inline"]:
                    opts.append("(reshift.k8s.inline) = true")
                if f["releases"] != m["releases"]:
                    opts.append(f"(reshift.k8s.releases) = {f['releases']:#x}")
                    told.append(span(f["releases"]))
                for fact in ("omitempty", "omitzero", "pointer"):
                    mask = f[fact] & f["releases"]
                    if mask:
                        opts.append(f"(reshift.k8s.{fact}_in) = {mask:#x}")
                        if mask != f["releases"]:
                            told.append(f"{fact} {span(mask)}")
                label = "" if f["type"]["kind"] == "map" else f["label"] + " "
                o = f" [{', '.join(opts)}]" if opts else ""
                c = f"  // {'; '.join(told)}" if told else ""
                lines.append(f"  {label}{type_name(f['type'], gopath)} {f['proto_name']} = {f['num']}{o};{c}")
            lines.append("}")
            lines.append("")
        with open(os.path.join(OUT, file_name(gopath)), "w") as fh:
            fh.write("\n".join(lines))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    head = "--head" in sys.argv[1:]
    if len(args) != len(REPOS):
        sys.exit(__doc__)
    repos = {name: Repo(d) for name, d in zip(REPOS, args)}
    notes, problems, groups, releases = set(), set(), {}, []
    for minor in range(FIRST_MINOR, LAST_MINOR + 1):
        refs_ = release_refs(repos, minor, head, notes)
        for name, ref in refs_.items():
            if not repos[name].has(ref):
                sys.exit(f"{name}: no {ref}")
        if head and minor == LAST_MINOR:
            for name, ref in refs_.items():
                print(f"1.{minor}: {name} at {repos[name].git('rev-parse', ref).strip()}", file=sys.stderr)
        pkgs = release_packages(repos, refs_)
        for gp, p in pkgs.items():
            if served(gp) and p.group is not None:
                groups.setdefault(gp, p.group)
        g = Gen(pkgs)
        g.run()
        problems.update(f"1.{minor}: {p}" for p in g.problems)
        check_renders({k: m for k, m in g.msgs.items() if m is not None})
        releases.append((minor, g.msgs))
    merged = unite(releases, notes)
    groups["k8s.io/apimachinery/pkg/apis/meta/v1"] = "meta.k8s.io"
    write(merged, groups)
    for p in sorted(problems):
        print("problem:", p, file=sys.stderr)
    for n in sorted(notes):
        print("note:", n, file=sys.stderr)
    print(f"{len(merged)} messages in {len({k[0] for k in merged})} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
