#!/usr/bin/env python3
"""Writes proto/k8s/*.proto: reshift's schemas of the Kubernetes built-in kinds.

The wire facts (message names, field numbers, wire types) and the JSON facts (field names,
omitempty, inline, pointer or not, Go field order) are both read from the `protobuf:"..."`
and `json:"..."` struct tags of the Go API types in kubernetes/api and kubernetes/apimachinery,
at several releases, and merged so that a field known to any of them is decoded. The output
holds facts only; nothing of the Go sources is copied.

    python3 tools/k8s-schema/gen.py API_GIT_DIR APIMACHINERY_GIT_DIR

where both are git directories (for example those `fetch` brings). Refs read: HEAD, v0.36.0,
v0.33.0 (a ref a repository lacks is skipped).
"""
import os
import re
import subprocess
import sys
from collections import OrderedDict

REFS = ["HEAD", "v0.36.0", "v0.33.0"]
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "proto", "k8s")

# Go package path -> (proto package, file name)
MACHINERY = {
    "k8s.io/apimachinery/pkg/apis/meta/v1": "pkg/apis/meta/v1",
    "k8s.io/apimachinery/pkg/runtime": "pkg/runtime",
    "k8s.io/apimachinery/pkg/util/intstr": "pkg/util/intstr",
    "k8s.io/apimachinery/pkg/api/resource": "pkg/api/resource",
    "k8s.io/apimachinery/pkg/types": "pkg/types",
}

# Messages whose JSON form is not their fields: (go package, type) -> (render, fields)
SPECIAL = {
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Time"): ("time", [("seconds", 1, "int64"), ("nanos", 2, "int32")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "MicroTime"): ("microtime", [("seconds", 1, "int64"), ("nanos", 2, "int32")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Duration"): ("duration", [("duration", 1, "int64")]),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "FieldsV1"): ("rawjson", [("Raw", 1, "bytes")]),
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): ("rawjson", [("raw", 1, "bytes")]),
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): ("intorstring", [("type", 1, "int64"), ("intVal", 2, "int32"), ("strVal", 3, "string")]),
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): ("quantity", [("string", 1, "string")]),
}

SCALARS = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool",
           "float64": "double", "float32": "float", "uint32": "uint32", "uint64": "uint64",
           "int": "int64", "byte": "uint32"}


def git(gitdir, *args):
    r = subprocess.run(["git", "--git-dir", gitdir, *args], capture_output=True)
    return r.stdout.decode() if r.returncode == 0 else None


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


def load(gitdir, ref, dirs):
    pkgs = {}
    for d, gopath in dirs:
        names = git(gitdir, "ls-tree", "--name-only", ref, d + "/")
        if names is None:
            continue
        pkg = Pkg(gopath)
        for f in names.split():
            if not f.endswith(".go") or f.endswith("_test.go") or "/zz_generated" in f or f.endswith("generated.pb.go"):
                continue
            parse_file(pkg, git(gitdir, "show", f"{ref}:{f}") or "")
        if pkg.structs or pkg.named:
            pkgs[gopath] = pkg
    return pkgs


def proto_pkg(gopath):
    if gopath.startswith("k8s.io/api/"):
        return "k8s.api." + gopath[len("k8s.io/api/"):].replace("/", ".")
    tail = gopath.rsplit("/pkg/", 1)[1]
    return "k8s.apimachinery." + tail.replace("apis/", "").replace("util/", "").replace("api/", "").replace("/", ".")


class Gen:
    def __init__(self, pkgs):
        self.pkgs = pkgs
        self.msgs = OrderedDict()  # (gopath, name) -> dict(render, fields)
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
            self.msgs[key] = {"render": "items", "fields": [
                {"proto_name": "items", "num": 1, "label": "repeated", "type": elem,
                 "json": "items", "omitempty": False, "inline": False, "pointer": False}]}
        return {"kind": "message", "ref": key}

    def build(self, gopath, name):
        key = (gopath, name)
        if key in SPECIAL:
            render, fs = SPECIAL[key]
            self.msgs[key] = {"render": render, "fields": [
                {"proto_name": n, "num": num, "label": "optional", "type": {"kind": "scalar", "proto": t},
                 "json": n, "omitempty": True, "inline": False, "pointer": False} for n, num, t in fs]}
            return
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
                continue
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
            out.append({"proto_name": pname, "num": num, "label": label, "type": t, "json": jname,
                        "omitempty": "omitempty" in jparts[1:] or "omitzero" in jparts[1:],
                        "inline": inline, "pointer": f["type"].startswith("*")})
        type_meta = any(f["embedded"] and f["type"].split(".")[-1] == "TypeMeta" for f in fields)
        self.msgs[key] = {"render": None, "fields": out, "type_meta": type_meta}

    def run(self):
        for gopath, pkg in self.pkgs.items():
            if not (gopath.startswith("k8s.io/api/") or gopath.endswith("/meta/v1")):
                continue
            for name, (fields, _) in pkg.structs.items():
                if any(f["proto"] for f in fields):
                    self.message(gopath, name)
        while self.todo:
            key = self.todo.pop(0)
            if self.msgs.get(key) is None:
                self.build(*key)


def merge(base, other):
    """Adds to base the messages and fields that only other has (older releases)."""
    for key, m in other.items():
        if m is None:
            continue
        if key not in base or base[key] is None:
            base[key] = m
            continue
        have = {f["num"] for f in base[key]["fields"]}
        for f in m["fields"]:
            if f["num"] not in have:
                # A field the newest release dropped: shown when present, left out when not.
                base[key]["fields"].append(dict(f, omitempty=True))


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
        lines = ["// Generated by tools/k8s-schema/gen.py from the Go struct tags of " + gopath + ".",
                 "// Wire facts and JSON facts only; regenerate rather than edit.",
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
            if m["render"]:
                lines.append(f'  option (reshift.k8s.render) = "{m["render"]}";')
            if m.get("type_meta"):
                lines.append("  option (reshift.k8s.type_meta) = true;")
            for f in m["fields"]:
                opts = []
                if f["json"] != f["proto_name"]:
                    opts.append(f'json_name = "{f["json"]}"')
                if f["omitempty"]:
                    opts.append("(reshift.k8s.omitempty) = true")
                if f["inline"]:
                    opts.append("(reshift.k8s.inline) = true")
                if f["pointer"]:
                    opts.append("(reshift.k8s.pointer) = true")
                label = "" if f["type"]["kind"] == "map" else f["label"] + " "
                o = f" [{', '.join(opts)}]" if opts else ""
                lines.append(f"  {label}{type_name(f['type'], gopath)} {f['proto_name']} = {f['num']}{o};")
            lines.append("}")
            lines.append("")
        with open(os.path.join(OUT, file_name(gopath)), "w") as fh:
            fh.write("\n".join(lines))


def main():
    api, machinery = sys.argv[1], sys.argv[2]
    merged, groups, problems = None, {}, set()
    for ref in REFS:
        tree = git(api, "ls-tree", "-d", "-r", "--name-only", ref)
        if tree is None:
            continue
        dirs = [(d, "k8s.io/api/" + d) for d in tree.split()
                if re.match(r"^[a-z]+/v\d+((alpha|beta)\d+)?$", d)]
        pkgs = load(api, ref, dirs)
        mref = ref if git(machinery, "rev-parse", "--verify", "-q", ref) else "HEAD"
        pkgs.update(load(machinery, mref, [(d, "k8s.io/apimachinery/" + d) for d in MACHINERY.values()]))
        for gp, p in pkgs.items():
            if gp.startswith("k8s.io/api/") and p.group is not None:
                groups.setdefault(gp, p.group)
        g = Gen(pkgs)
        g.run()
        problems.update(g.problems)
        if merged is None:
            merged = g.msgs
        else:
            merge(merged, g.msgs)
    groups["k8s.io/apimachinery/pkg/apis/meta/v1"] = "meta.k8s.io"
    write(merged, groups)
    for p in sorted(problems):
        print("note:", p, file=sys.stderr)
    print(f"{len(merged)} messages in {len({k[0] for k in merged})} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
