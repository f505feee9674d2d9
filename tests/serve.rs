//! `reshift serve` against the real kubectl (and the Python client when installed), over a
//! data dir a real etcd 3.4 wrote with Kubernetes objects (../shared/tools/gen_etcd.py).
//! What kubectl shows is checked against what the source holds (`reshift ls`/`get`), and
//! the watch history against a real etcd's own watch of the same files.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `reshift serve`, killed and reaped on drop.
struct Server {
    child: Child,
    kubeconfig: PathBuf,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &Path, dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let kubeconfig = dir.join(format!("kubeconfig-{port}"));
    let child = reshift()
        .arg("serve")
        .arg(data)
        .args(["--listen", &addr, "--kubeconfig"])
        .arg(&kubeconfig)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        kubeconfig,
        addr,
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if s.kubeconfig.exists() && std::net::TcpStream::connect(&s.addr).is_ok() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("reshift serve did not start on {}", s.addr);
}

impl Server {
    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--request-timeout", "30s"])
            .args(args)
            .output()
            .unwrap()
    }

    /// kubectl's stdout; panics when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

/// A small data dir a real etcd 3.4 wrote (`gen_etcd.py`), made once per test binary.
fn generated() -> Option<&'static Path> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if !etcd_available("serve") {
            return None;
        }
        let out = gen_data_dir("serve-gen", 400, 120, 20, 11);
        // The widgets' CRD, with printer columns, stored as the apiserver stores a
        // JSON object.
        let etcd = Etcd::start(&out, "gen");
        etcd.ctl(&[
            "put",
            "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
            CRD,
        ]);
        drop(etcd);
        Some(out)
    })
    .as_deref()
}

const CRD: &str = r#"{"kind":"CustomResourceDefinition","apiVersion":"apiextensions.k8s.io/v1","metadata":{"name":"widgets.example.com","uid":"0b6f3c1e-3a55-4d7e-9d0e-1f2a3b4c5d6e","generation":1,"creationTimestamp":"2023-11-14T22:00:00Z"},"spec":{"group":"example.com","names":{"plural":"widgets","singular":"widget","shortNames":["wd"],"kind":"Widget","listKind":"WidgetList"},"scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}},"additionalPrinterColumns":[{"name":"Color","type":"string","jsonPath":".spec.color"},{"name":"Size","type":"integer","jsonPath":".spec.size"},{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}]}],"conversion":{"strategy":"None"}},"status":{"conditions":[],"acceptedNames":{"plural":"widgets","singular":"widget","shortNames":["wd"],"kind":"Widget","listKind":"WidgetList"},"storedVersions":["v1"]}}"#;

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every object of a resource in the source, as `reshift ls -o objects` gives them.
fn objects(data: &Path, ty: &str) -> Vec<Value> {
    json_lines(&ok(&["ls", data.to_str().unwrap(), ty, "-o", "objects"]))
}

fn ns_name(o: &Value) -> (String, String) {
    (
        o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        o["metadata"]["name"].as_str().unwrap().to_string(),
    )
}

/// `NAMESPACE NAME ...` rows of `kubectl get -A --no-headers` as (namespace, name).
fn rows_ns_name(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn kubectl_reads_a_dead_cluster() {
    if !kubectl_available() {
        return;
    }
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let srv = start_server(data, tmp.path(), &[]);
    let d = data.to_str().unwrap();

    // The kubeconfig is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&srv.kubeconfig)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // get pods -A: exactly the pods the source holds, with kubectl's columns.
    let pods = objects(data, "pods");
    assert!(pods.len() > 20, "the generated data has pods");
    let want: BTreeSet<_> = pods.iter().map(ns_name).collect();
    let out = srv.ok(&["get", "pods", "-A"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let got = rows_ns_name(&out.lines().skip(1).collect::<Vec<_>>().join("\n"));
    assert_eq!(got, want);
    // Paged (kubectl's --chunk-size sends limit and continue): the same rows.
    let paged = srv.ok(&["get", "pods", "-A", "--no-headers", "--chunk-size=7"]);
    assert_eq!(rows_ns_name(&paged), want);
    // READY is ready/total containers of each pod.
    let p0 = &pods[0];
    let (ns0, name0) = ns_name(p0);
    let row = srv.ok(&["get", "pod", &name0, "-n", &ns0, "--no-headers"]);
    let total = p0["spec"]["containers"].as_array().map_or(0, Vec::len);
    assert!(
        row.split_whitespace()
            .nth(1)
            .unwrap()
            .ends_with(&format!("/{total}")),
        "{row}"
    );

    // get deploy -n X -o wide: the deployments of that namespace, wide columns.
    let deps = objects(data, "deployments");
    let ns = deps[0]["metadata"]["namespace"].as_str().unwrap();
    let want: BTreeSet<String> = deps
        .iter()
        .filter(|o| o["metadata"]["namespace"] == ns)
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let out = srv.ok(&["get", "deploy", "-n", ns, "-o", "wide"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let got: BTreeSet<String> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(got, want);

    // get secret -o yaml: byte for byte what `reshift get -o yaml` prints.
    let secrets = objects(data, "secrets");
    let (sns, sname) = ns_name(&secrets[0]);
    let got = srv.ok(&[
        "get",
        "secret",
        &sname,
        "-n",
        &sns,
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    let want = ok(&[
        "get",
        d,
        &format!("secret/{sname}"),
        "-n",
        &sns,
        "-o",
        "yaml",
    ]);
    assert_eq!(got, String::from_utf8(want).unwrap());
    // And -o json of a pod is the served object.
    let got: Value = serde_json::from_str(&srv.ok(&[
        "get",
        "pod",
        &name0,
        "-n",
        &ns0,
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .unwrap();
    assert_eq!(&got, p0);

    // A label selector with a field selector: the pods that match both.
    let with = pods
        .iter()
        .find(|p| p["metadata"]["labels"]["app"].is_string() && p["spec"]["nodeName"].is_string())
        .expect("a pod with an app label and a node");
    let app = with["metadata"]["labels"]["app"].as_str().unwrap();
    let node = with["spec"]["nodeName"].as_str().unwrap();
    let want: BTreeSet<_> = pods
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app && p["spec"]["nodeName"] == node)
        .map(ns_name)
        .collect();
    let out = srv.ok(&[
        "get",
        "pods",
        "-A",
        "--no-headers",
        "-l",
        &format!("app={app}"),
        "--field-selector",
        &format!("spec.nodeName={node}"),
    ]);
    assert_eq!(rows_ns_name(&out), want);
    let out = srv.ok(&[
        "get",
        "pods",
        "-A",
        "--no-headers",
        "--field-selector",
        &format!("spec.nodeName!={node}"),
    ]);
    assert_eq!(
        rows_ns_name(&out),
        pods.iter()
            .filter(|p| p["spec"]["nodeName"] != node)
            .map(ns_name)
            .collect()
    );
    // A field the apiserver does not index is refused, as the apiserver refuses it.
    let o = srv.kubectl(&["get", "pods", "-A", "--field-selector", "spec.priority=3"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("field label not supported"));

    // Events sorted by lastTimestamp: every event, in order.
    let events = objects(data, "events");
    let out = srv.ok(&[
        "get",
        "events",
        "-A",
        "--sort-by=.lastTimestamp",
        "-o",
        "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,LAST:.lastTimestamp",
        "--no-headers",
    ]);
    let lasts: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    let mut sorted = lasts.clone();
    sorted.sort();
    assert_eq!(lasts, sorted);
    assert_eq!(rows_ns_name(&out), events.iter().map(ns_name).collect());
    // The default event table too.
    let out = srv.ok(&["get", "events", "-A", "--sort-by=.lastTimestamp"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "LAST",
            "SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "MESSAGE"
        ]
    );

    // describe pod: its name, namespace and node.
    let out = srv.ok(&["describe", "pod", &name0, "-n", &ns0]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("Name:") && l.ends_with(&name0)),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("Namespace:") && l.ends_with(&ns0))
    );

    // api-resources: the built-ins and the custom resource the keyspace holds.
    let out = srv.ok(&["api-resources", "--no-headers"]);
    for r in [
        "pods",
        "deployments",
        "events",
        "secrets",
        "widgets",
        "customresourcedefinitions",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{r} "))),
            "{r} in {out}"
        );
    }
    // The custom resource, named as kubectl names it.
    let widgets = objects(data, "widgets.example.com");
    assert!(!widgets.is_empty());
    let out = srv.ok(&["get", "widgets.example.com", "-A", "--no-headers"]);
    assert_eq!(rows_ns_name(&out), widgets.iter().map(ns_name).collect());
    // Its CRD's short name and printer columns.
    let out = srv.ok(&["get", "wd", "-A"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "COLOR", "SIZE", "AGE"]);
    let got: BTreeSet<(String, String, String)> = out
        .lines()
        .skip(1)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1].to_string(), w[2].to_string(), w[3].to_string())
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = widgets
        .iter()
        .map(|w| {
            let cell = |v: &Value| match v {
                Value::String(s) => s.clone(),
                Value::Null => "<none>".to_string(),
                v => v.to_string(),
            };
            (
                ns_name(w).1,
                cell(&w["spec"]["color"]),
                cell(&w["spec"]["size"]),
            )
        })
        .collect();
    assert_eq!(got, want);

    // A write is refused, saying why.
    let o = srv.kubectl(&["delete", "pod", &name0, "-n", &ns0]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("MethodNotAllowed") && err.contains("read-only"),
        "{err}"
    );
    let o = srv.kubectl(&["logs", &name0, "-n", &ns0]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("offline copy"));

    // get pods --watch: the list, then the stream held open until kubectl gives up.
    let t0 = Instant::now();
    let o = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&srv.kubeconfig)
        .args([
            "get",
            "pods",
            "-n",
            &ns0,
            "--watch",
            "--request-timeout=3s",
            "--no-headers",
        ])
        .output()
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
    let got: BTreeSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = pods
        .iter()
        .filter(|p| p["metadata"]["namespace"] == ns0.as_str())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);

    // The Python client (Debian's python3-kubernetes), when installed.
    let py = Command::new("/usr/bin/python3")
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if py {
        let script = "import sys\nfrom kubernetes import client, config\nconfig.load_kube_config(sys.argv[1])\nfor p in client.CoreV1Api().list_pod_for_all_namespaces().items:\n    print(p.metadata.namespace, p.metadata.name, p.spec.node_name)\n";
        let o = Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&srv.kubeconfig)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: BTreeSet<_> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                (w[0].to_string(), w[1].to_string(), w[2].to_string())
            })
            .collect();
        let want: BTreeSet<_> = pods
            .iter()
            .map(|p| {
                let (n, m) = ns_name(p);
                (
                    n,
                    m,
                    p["spec"]["nodeName"].as_str().unwrap_or("None").to_string(),
                )
            })
            .collect();
        assert_eq!(got, want);
    }
}

/// The watch history since a revision is what a real etcd's watch of the same files
/// reports: one event per put and delete of a pod, in revision order.
#[test]
fn watch_replays_what_etcd_watches() {
    if !kubectl_available() {
        return;
    }
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let srv = start_server(data, tmp.path(), &[]);
    let rev: i64 = srv
        .ok(&["get", "--raw", "/api/v1/pods?limit=1"])
        .parse::<Value>()
        .unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let since = rev / 2;
    let body = srv.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/pods?watch=true&resourceVersion={since}&timeoutSeconds=1"),
    ]);
    let got: Vec<(String, String, String)> = body
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            let o = &e["object"];
            (
                e["type"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                ),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    drop(srv);
    // A real etcd over a copy of the same files, watching the same prefix from there.
    let copy = tmp.path().join("etcd-copy");
    copy_tree(data, &copy);
    let etcd = Etcd::start(&copy, "gen");
    let mut child = etcd
        .ctl_cmd(&[
            "watch",
            "--prefix",
            "/registry/pods/",
            &format!("--rev={}", since + 1),
            "-w",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its responses until it has been quiet for 2 s (at most 30 s).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines() {
            if l.as_ref().is_err() || tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let t0 = Instant::now();
    let mut lines = Vec::new();
    while t0.elapsed() < Duration::from_secs(30) {
        let wait = if lines.is_empty() { 20 } else { 2 };
        match rx.recv_timeout(Duration::from_secs(wait)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut want = Vec::new();
    for l in &lines {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        for ev in v["Events"].as_array().into_iter().flatten() {
            let kv = &ev["kv"];
            let key = String::from_utf8(base64_decode(kv["key"].as_str().unwrap())).unwrap();
            let nsn = key.trim_start_matches("/registry/pods/").to_string();
            let mod_rev = kv["mod_revision"].as_i64().unwrap();
            // etcdctl's JSON leaves out the PUT type (0); a delete is 1.
            let ty = if ev["type"] == 1 || ev["type"] == "DELETE" {
                "DELETED"
            } else if kv["version"].as_i64() == Some(1) {
                "ADDED"
            } else {
                "MODIFIED"
            };
            want.push((ty.to_string(), nsn, mod_rev.to_string()));
        }
    }
    assert!(want.len() > 5, "the history has pod events after {since}");
    assert_eq!(got, want);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// One HTTP/1.1 GET: (status, content type, body), a chunked body decoded.
fn http_get(addr: &str, path: &str, accept: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut body = buf[end + 4..].to_vec();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let header = |n: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(n).then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let nl = at + body[at..].windows(2).position(|w| w == b"\r\n").unwrap();
            let size = std::str::from_utf8(&body[at..nl]).unwrap();
            let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&body[nl + 2..nl + 2 + n]);
            at = nl + 2 + n + 2;
        }
        body = out;
    }
    (code, header("content-type").unwrap_or_default(), body)
}

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let c = b[*pos];
        *pos += 1;
        v |= u64::from(c & 0x7f) << (7 * i);
        if c < 0x80 {
            break;
        }
    }
    v
}

/// A protobuf message's fields: (number, the field's bytes from its tag, the payload of a
/// length-delimited field).
fn pb_fields(m: &[u8]) -> Vec<(u64, &[u8], &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < m.len() {
        let start = pos;
        let tag = varint(m, &mut pos);
        let payload = match tag & 7 {
            0 => {
                varint(m, &mut pos);
                &m[pos..pos]
            }
            1 => {
                pos += 8;
                &m[pos..pos]
            }
            5 => {
                pos += 4;
                &m[pos..pos]
            }
            2 => {
                let n = varint(m, &mut pos) as usize;
                pos += n;
                &m[pos - n..pos]
            }
            w => panic!("wire type {w}"),
        };
        out.push((tag >> 3, &m[start..pos], payload));
    }
    out
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    for mut x in [field << 3 | 2, b.len() as u64] {
        while x >= 0x80 {
            out.push((x as u8) | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
    }
    out.extend_from_slice(b);
}

/// What the apiserver answers in protobuf for a stored value served at `rev`: the object's
/// ObjectMeta (field 1) with resourceVersion (field 6) set, in field-number order, and the
/// envelope as Go's marshaller writes runtime.Unknown (TypeMeta, raw, and the two content
/// strings always present).
fn served_protobuf(stored: &[u8], rev: i64) -> (Vec<u8>, Vec<u8>) {
    let env = pb_fields(stored.strip_prefix(b"k8s\0").expect("a protobuf value"));
    let type_meta = env.iter().find(|f| f.0 == 1).unwrap().2;
    let raw = env.iter().find(|f| f.0 == 2).unwrap().2;
    let mut obj = Vec::new();
    for (n, whole, payload) in pb_fields(raw) {
        if n != 1 {
            obj.extend_from_slice(whole);
            continue;
        }
        let mut meta = Vec::new();
        let mut put = false;
        for (m, w, _) in pb_fields(payload) {
            if m == 6 {
                continue;
            }
            if m > 6 && !put {
                pb_bytes(&mut meta, 6, rev.to_string().as_bytes());
                put = true;
            }
            meta.extend_from_slice(w);
        }
        if !put {
            pb_bytes(&mut meta, 6, rev.to_string().as_bytes());
        }
        pb_bytes(&mut obj, 1, &meta);
    }
    let mut out = b"k8s\0".to_vec();
    pb_bytes(&mut out, 1, type_meta);
    pb_bytes(&mut out, 2, &obj);
    pb_bytes(&mut out, 3, b"");
    pb_bytes(&mut out, 4, b"");
    (out, obj)
}

const PB: &str = "application/vnd.kubernetes.protobuf";

/// GET and LIST in protobuf, as client-go controllers ask: every pod, deployment, service
/// and configmap of the generated data is the stored bytes with the served
/// resourceVersion put in its place, and decodes (reshift's own decoder) to exactly the
/// JSON answer; lists page and stream the same items under a ListMeta with the served
/// revision; custom resources answer JSON or 406 as the apiserver does.
#[test]
fn protobuf_answers_are_the_stored_bytes_at_the_served_revision() {
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let srv = start_server(data, tmp.path(), &[]);
    let d = data.to_str().unwrap();
    let view = reshift::k8s::render::View {
        release: reshift::k8s::schema::Release::NEWEST,
        resource_version: None,
    };
    let mut pods: Vec<(String, Vec<u8>)> = Vec::new();
    for (prefix, group) in [
        ("/registry/pods/", "/api/v1/namespaces/{}/pods/"),
        (
            "/registry/deployments/",
            "/apis/apps/v1/namespaces/{}/deployments/",
        ),
        (
            "/registry/services/specs/",
            "/api/v1/namespaces/{}/services/",
        ),
        ("/registry/configmaps/", "/api/v1/namespaces/{}/configmaps/"),
    ] {
        let dump = json_lines(&ok(&["dump", d, "--prefix", prefix]));
        assert!(!dump.is_empty(), "the generated data has {prefix}");
        for kv in &dump {
            let key = String::from_utf8(base64_decode(kv["key"].as_str().unwrap())).unwrap();
            let (ns, name) = key.strip_prefix(prefix).unwrap().split_once('/').unwrap();
            let stored = base64_decode(kv["value"].as_str().unwrap());
            let rev = kv["mod_revision"].as_i64().unwrap();
            let path = format!("{}{name}", group.replace("{}", ns));
            let (code, ctype, pb) = http_get(&srv.addr, &path, PB, None);
            assert_eq!((code, ctype.as_str()), (200, PB), "{path}");
            let (want, raw) = served_protobuf(&stored, rev);
            assert!(
                pb == want,
                "{path}: not the stored bytes with resourceVersion {rev}"
            );
            let (code, _, json) = http_get(&srv.addr, &path, "application/json", None);
            assert_eq!(code, 200);
            let text = reshift::k8s::object::decode_object_json(&pb, &view).unwrap();
            assert_eq!(text, String::from_utf8(json).unwrap(), "{path}");
            // client-go's Accept: protobuf first, JSON as the fallback.
            let (_, ctype, again) =
                http_get(&srv.addr, &path, &format!("{PB}, application/json"), None);
            assert_eq!((ctype.as_str(), &again), (PB, &pb));
            if prefix == "/registry/pods/" {
                pods.push((key, raw));
            }
        }
    }
    pods.sort();
    let want: Vec<Vec<u8>> = pods.into_iter().map(|(_, raw)| raw).collect();
    let served_rev: Value = serde_json::from_slice(
        &http_get(&srv.addr, "/api/v1/pods?limit=1", "application/json", None).2,
    )
    .unwrap();
    let served_rev = served_rev["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // A PodList: (ListMeta's resourceVersion, its continue, the items).
    let list = |path: &str| {
        let (code, ctype, body) = http_get(&srv.addr, path, PB, None);
        assert_eq!((code, ctype.as_str()), (200, PB), "{path}");
        let env = pb_fields(body.strip_prefix(b"k8s\0").unwrap());
        let tm = pb_fields(env[0].2);
        assert_eq!((tm[0].2, tm[1].2), (&b"v1"[..], &b"PodList"[..]));
        assert_eq!(
            env.iter().map(|f| f.0).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "{path}"
        );
        let fields = pb_fields(env[1].2);
        assert_eq!(fields[0].0, 1, "ListMeta first");
        let meta = pb_fields(fields[0].2);
        let get = |n| {
            meta.iter()
                .find(|f| f.0 == n)
                .map(|f| String::from_utf8(f.2.to_vec()).unwrap())
                .unwrap_or_default()
        };
        let items: Vec<Vec<u8>> = fields[1..]
            .iter()
            .map(|f| {
                assert_eq!(f.0, 2);
                f.2.to_vec()
            })
            .collect();
        (get(2), get(3), items)
    };
    let (rv, cont, all) = list("/api/v1/pods");
    assert_eq!((rv.as_str(), cont.as_str()), (served_rev.as_str(), ""));
    assert!(
        all == want,
        "the whole list is every pod's GET answer, in key order"
    );
    let mut paged = Vec::new();
    let mut cont = String::new();
    for page in 0.. {
        assert!(page < 1000, "paging ends");
        let (rv, next, items) = list(&format!("/api/v1/pods?limit=7&continue={cont}"));
        assert_eq!(rv, served_rev);
        assert!(items.len() <= 7);
        paged.extend(items);
        if next.is_empty() {
            break;
        }
        cont = next;
    }
    assert!(
        paged == want,
        "paged in protobuf: every pod once, in key order"
    );

    // Custom resources have no protobuf form: JSON when the client takes it, else 406.
    let path = "/apis/example.com/v1/widgets";
    let (code, ctype, _) = http_get(&srv.addr, path, &format!("{PB}, application/json"), None);
    assert_eq!((code, ctype.as_str()), (200, "application/json"));
    let (code, _, body) = http_get(&srv.addr, path, PB, None);
    assert_eq!(code, 406);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (st["kind"].as_str(), st["reason"].as_str()),
        (Some("Status"), Some("NotAcceptable"))
    );
}

/// Beyond loopback: HTTPS with the given certificate and a bearer token, which the
/// written kubeconfig carries; the real kubectl lists through it, and is refused without
/// the token or with a wrong one.
#[test]
fn tls_and_token() {
    if !kubectl_available() {
        return;
    }
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=reshift-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl req -x509");
    let token = tmp.path().join("token");
    std::fs::write(&token, "s3cret-token-for-the-test\n").unwrap();

    // Beyond loopback without TLS and a token: refused.
    let o = reshift()
        .args(["serve", data.to_str().unwrap(), "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--tls-cert"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let srv = start_server(
        data,
        tmp.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    let kc = std::fs::read_to_string(&srv.kubeconfig).unwrap();
    assert!(
        kc.contains(&format!("server: https://{}", srv.addr)),
        "{kc}"
    );
    assert!(kc.contains("certificate-authority-data: "), "{kc}");
    assert!(kc.contains("token: \"s3cret-token-for-the-test\""), "{kc}");
    // kubectl through TLS (verifying the certificate with the kubeconfig's CA) and the token.
    let want: BTreeSet<_> = objects(data, "pods").iter().map(ns_name).collect();
    let out = srv.ok(&["get", "pods", "-A", "--no-headers"]);
    assert_eq!(rows_ns_name(&out), want);
    // A wrong token, and none: 401.
    for args in [
        &["--token", "wrong-token", "get", "pods", "-A"][..],
        &["--token", "s3cret-token-for-the-tesT", "get", "pods", "-A"][..],
    ] {
        let o = srv.kubectl(args);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Unauthorized"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let no_token = tmp.path().join("kubeconfig-no-token");
    std::fs::write(
        &no_token,
        kc.lines()
            .map(|l| {
                if l.trim_start().starts_with("token:") {
                    "    {}"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace("user:\n    {}", "user: {}"),
    )
    .unwrap();
    let o = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&no_token)
        .args(["--request-timeout", "30s", "get", "pods", "-A"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // (kubectl without credentials asks for a password on a 401: EOF here.)
    assert!(!o.status.success());
    // The 401 itself, over TLS, verified against the same certificate.
    let o = Command::new("curl")
        .args(["-s", "--max-time", "30", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/api/v1/pods?limit=1", srv.addr))
        .output()
        .unwrap();
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (st["kind"].as_str(), st["code"].as_i64()),
        (Some("Status"), Some(401))
    );
    // Plain HTTP to the TLS port gets no API answer.
    let plain = std::panic::catch_unwind(|| {
        http_get(
            &srv.addr,
            "/api/v1/pods",
            "application/json",
            Some("s3cret-token-for-the-test"),
        )
    });
    assert!(plain.is_err() || plain.unwrap().0 != 200);
}

/// A token on loopback without TLS: requests without it are answered 401 with a Status.
#[test]
fn token_without_tls_on_loopback() {
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "tok-123\n").unwrap();
    let srv = start_server(data, tmp.path(), &["--token-file", token.to_str().unwrap()]);
    let (code, _, body) = http_get(&srv.addr, "/api/v1/pods?limit=1", "application/json", None);
    assert_eq!(code, 401);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (st["reason"].as_str(), st["code"].as_i64()),
        (Some("Unauthorized"), Some(401))
    );
    let (code, _, _) = http_get(
        &srv.addr,
        "/api/v1/pods?limit=1",
        "application/json",
        Some("tok-12"),
    );
    assert_eq!(code, 401);
    let (code, _, body) = http_get(
        &srv.addr,
        "/api/v1/pods?limit=1",
        "application/json",
        Some("tok-123"),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["kind"],
        "PodList"
    );
}

/// An incremental snapshot serves its chain's state: every pod the data dir holds, not
/// only the pods written after the chain's full snapshot.
#[test]
fn an_incremental_snapshot_serves_its_chains_state() {
    let Some(data) = generated() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = data.to_str().unwrap();
    let ins: Value = serde_json::from_slice(&ok(&["inspect", d, "-o", "json"])).unwrap();
    let rev = ins["revision"].as_i64().unwrap();
    let full = tmp.path().join("full.rsnap");
    let inc = tmp.path().join("next.rsnap");
    let (full_s, inc_s) = (full.to_str().unwrap(), inc.to_str().unwrap());
    ok(&[
        "snapshot",
        d,
        "--revision",
        &(rev - 60).to_string(),
        "-o",
        full_s,
    ]);
    ok(&["snapshot", d, "--since", full_s, "-o", inc_s]);
    let want: BTreeSet<(String, String)> = objects(data, "pods").iter().map(ns_name).collect();
    assert!(want.len() > 50, "{} pods", want.len());
    let srv = start_server(&inc, tmp.path(), &[]);
    let (code, _, body) = http_get(&srv.addr, "/api/v1/pods", "application/json", None);
    assert_eq!(code, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let got: BTreeSet<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(ns_name)
        .collect();
    assert_eq!(got, want);
    assert_eq!(list["metadata"]["resourceVersion"], rev.to_string());
}
