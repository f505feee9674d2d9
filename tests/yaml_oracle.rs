//! The YAML writer against real output: the `yaml` samples of ../shared/k8s-served-dev (what
//! sigs.k8s.io/yaml printed for objects the apiserver served), from their JSON and through
//! `reshift get -o yaml` on the set's data dir; and kubectl 1.32 itself, run offline on
//! hostile objects when it is installed.

use reshift::k8s::yaml::json_to_yaml;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Unpacks the dev archive into `dir` (only `apienc-dev/expected.jsonl` unless `all`);
/// returns the path of `apienc-dev/`.
fn unpack_dev_set(dir: &Path, all: bool) -> PathBuf {
    let archive =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s-served-dev/apienc-dev.tar.zst");
    let file = std::fs::File::open(&archive).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the dev set lives in ../shared beside the checkout)",
            archive.display()
        )
    });
    let mut dec = zstd::stream::read::Decoder::new(file).unwrap();
    dec.window_log_max(27).unwrap();
    let mut tar = Command::new("tar");
    tar.args(["-x", "-C"]).arg(dir);
    if !all {
        tar.arg("apienc-dev/expected.jsonl");
    }
    let mut tar = tar.stdin(Stdio::piped()).spawn().expect("run tar");
    let mut stdin = tar.stdin.take().unwrap();
    std::io::copy(&mut dec, &mut stdin).unwrap();
    drop(stdin);
    assert!(tar.wait().unwrap().success(), "tar failed");
    dir.join("apienc-dev")
}

/// The samples that have a `yaml`: (key, compact JSON, yaml or `error: …`).
fn samples(dev: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dev.join("expected.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(want) = v["yaml"].as_str() else {
            continue;
        };
        let key = v["key"].as_str().or(v["file"].as_str()).unwrap_or("?");
        let compact = v["compact"].as_str().expect("a sample has compact JSON");
        out.push((key.to_string(), compact.to_string(), want.to_string()));
    }
    assert!(out.len() >= 90, "only {} samples with yaml", out.len());
    out
}

/// Every sample equals what go-yaml printed, byte for byte, or fails where kubectl failed.
/// The samples hold `compact` (no resourceVersion), which is what their `yaml` was made from.
#[test]
fn dev_set_samples_print_as_kubectl_prints_them() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = samples(&unpack_dev_set(tmp.path(), false));
    let mut errors = 0;
    let mut bad = Vec::new();
    for (key, compact, want) in &samples {
        match (want.strip_prefix("error: "), json_to_yaml(compact)) {
            (Some(_), Err(_)) => errors += 1,
            (None, Ok(got)) if &got == want => {}
            (Some(msg), Ok(_)) => bad.push(format!("{key}: kubectl failed ({msg}), we printed")),
            (None, Err(e)) => bad.push(format!("{key}: we failed: {e}")),
            (None, Ok(got)) => bad.push(format!("{key}: {}", first_difference(&got, want))),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} samples differ:\n{}",
        bad.len(),
        samples.len(),
        bad.join("\n")
    );
    eprintln!(
        "{} samples equal byte for byte ({errors} of them errors in kubectl and here)",
        samples.len()
    );
}

/// The same samples through the command line: `reshift get DATA KEY -o yaml --as-stored`
/// on the dev set's etcd data dir prints what kubectl printed (the samples were made with
/// Kubernetes 1.36's codecs, without the resourceVersion).
#[test]
fn reshift_get_prints_the_samples_as_kubectl_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = unpack_dev_set(tmp.path(), true);
    let data = dev.join("data");
    let mut bad = Vec::new();
    let samples = samples(&dev);
    for (key, _, want) in &samples {
        if !key.starts_with('/') {
            continue; // an unstored file, not in the data dir
        }
        let o = Command::new(env!("CARGO_BIN_EXE_reshift"))
            .arg("get")
            .arg(&data)
            .arg(key)
            .args(["-o", "yaml", "--as-stored", "--kube-version", "1.36"])
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&o.stdout);
        match (want.starts_with("error: "), o.status.success()) {
            (true, false) => {}
            (false, true) if got == want.as_str() => {}
            (true, true) => bad.push(format!("{key}: kubectl failed, reshift printed")),
            (false, false) => bad.push(format!(
                "{key}: reshift failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            (false, true) => bad.push(format!("{key}: {}", first_difference(&got, want))),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} samples differ:\n{}",
        bad.len(),
        samples.len(),
        bad.join("\n")
    );
}

fn first_difference(got: &str, want: &str) -> String {
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    format!(
        "first difference at line {}:\n  got:  {:?}\n  want: {:?}",
        line + 1,
        got.lines().nth(line).unwrap_or("<end>"),
        want.lines().nth(line).unwrap_or("<end>")
    )
}

// ---------------------------------------------------------------------------------------------
// kubectl itself. `kubectl label --local -f FILE foo- -o yaml` reads a JSON file into the same
// generic object `kubectl get` makes of a server's response (encoding/json into
// unstructured), changes nothing else (the objects carry `labels: {}`, which removing an
// absent label leaves), and prints through the same YAMLPrinter (sigs.k8s.io/yaml). It needs
// no API server and no kubeconfig.

/// `s` as a JSON string, escaping only what JSON requires (so everything else reaches
/// kubectl as written).
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

const LOREM: &str =
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor";

/// String values every quoting, escaping and folding rule of go-yaml has an opinion on.
fn hostile_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "a",
        "yes",
        "Yes",
        "YES",
        "no",
        "on",
        "On",
        "off",
        "OFF",
        "y",
        "Y",
        "n",
        "N",
        "true",
        "True",
        "false",
        "FALSE",
        "null",
        "Null",
        "NULL",
        "~",
        "<<",
        "123",
        "-123",
        "+123",
        "1e3",
        "1E3",
        "1e+3",
        "1.5",
        "-1.5",
        ".5",
        "5.",
        "+.5",
        "1_000",
        "1__0",
        "_1",
        "0x1F",
        "0X1f",
        "0x",
        "0xG",
        "0o17",
        "0O17",
        "0b101",
        "0B101",
        "0b",
        "0b+1",
        "0b-1",
        "-0b101",
        "-0b-1",
        "08",
        "09.5",
        "0.1.2",
        "1:20",
        "-1:20",
        "+1:20",
        "12:30:45.5",
        "1:60",
        "1:5:9",
        "190:20:30",
        "1:2_0",
        "1_2:30",
        "2024-01-02",
        "2024-1-2",
        "2024-02-30",
        "2023-02-29",
        "2024-02-29",
        "2000-02-29",
        "1900-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-01-32",
        "2024-001-02",
        "20240-01-02",
        "2024-01-02T03:04:05Z",
        "2024-01-02t03:04:05Z",
        "2024-01-02T03:04:05.123456789Z",
        "2024-01-02T03:04:05.1234567891Z",
        "2024-01-02T03:04:05+01:00",
        "2024-01-02T03:04:05-24:00",
        "2024-01-02T03:04:05+25:00",
        "2024-01-02T03:04:05+01:61",
        "2024-01-02T03:04:05+0100",
        "2024-01-02 03:04:05",
        "2024-01-02   3:4:5.5",
        "2024-01-02T03:04:05",
        "2024-01-02T24:00:00Z",
        "2024-01-02T23:60:00Z",
        "2024-01-02T03:04:05,5Z",
        "2024-01-02T03:04:05.Z",
        "2024-01-02 03:04:05Z",
        "2024-01-02x",
        "1e400",
        "-1e400",
        "1e-400",
        ".1e400",
        ".1e-400",
        ".1_2",
        "._1",
        ".1_",
        ".1e1_0",
        ".1e_1",
        ".e1",
        ".nan",
        ".NaN",
        ".NAN",
        ".Nan",
        ".inf",
        ".Inf",
        "-.inf",
        "+.INF",
        "-.Inf",
        "inf",
        "-inf",
        "nan",
        "Infinity",
        "0",
        "-0",
        "00",
        "0.0",
        "+0",
        "-",
        "+",
        ".",
        "..",
        "...",
        "....",
        "---",
        "----",
        "--- a",
        "---a",
        "...a",
        "- a",
        "-a",
        "-",
        "? a",
        "?a",
        "?",
        ":a",
        ": a",
        ":",
        "a:b",
        "a: b",
        "a:",
        "a #b",
        "a#b",
        "#a",
        "[a",
        "]a",
        "{a",
        "}a",
        ",a",
        "a,b",
        "a[b]",
        "a{b}",
        "a?b",
        "&a",
        "*a",
        "!a",
        "|a",
        ">a",
        "'a",
        "\"a",
        "%a",
        "@a",
        "`a",
        "a'b",
        "a''b",
        "'",
        "a\"b",
        "a\\b",
        " a",
        "a ",
        "a  b",
        " ",
        "  ",
        "\ta",
        "a\tb",
        "a\t",
        "a\nb",
        "a\n",
        "a\n\n",
        "a\n\n\n",
        "\n",
        "\n\n",
        "\na",
        "\n\na",
        " a\nb",
        "  a\n  b\n",
        "a \nb",
        "a\n b",
        "a\n\n b",
        "a\r\nb",
        "a\rb",
        "a\u{85}b",
        "a \u{85} b",
        "a\u{85}\u{85}b",
        "a\u{85} \u{85}  b",
        "\u{85}a",
        "a\u{85}",
        "a\u{85}---b",
        "a\u{85}...",
        "a\u{85}--",
        "a\u{2028}b",
        "a\u{2029}b",
        "a \u{2028} b",
        "a\u{2028}b\nc",
        "\u{2028}",
        "\u{2028}a\nb",
        "\u{feff}a",
        "a\u{feff}",
        "\u{feff} a b",
        "\u{feff}",
        "\u{a0}",
        "a\u{a0}b",
        "\u{a0}a",
        "é",
        "日本語",
        "🚀",
        "a🚀b",
        "a\u{10ffff}",
        "\u{e000}",
        "\u{fffd}",
        "\u{fffc}",
        "\0",
        "\u{1}",
        "\u{7}",
        "\u{8}",
        "\u{b}",
        "\u{c}",
        "\u{1b}",
        "\u{1f}",
        "<>&",
        "a/b",
        "a -b",
        "a - b",
        "a ? b",
        "a #",
        "# a",
        "a: ",
        "key: value",
        "-1",
        "-1a",
        "1a",
        "1.2.3",
        "v1.2.3",
        "1,000",
        "$1",
        "1%",
        "0.",
        "-.5",
        "+.5e+5",
        "1e",
        "1e+",
        "e3",
        "0e0",
        "0x_1F",
        "0_x1F",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The unit tests' cases (src/k8s/yaml/tests.rs) not listed above.
    let word9 = vec!["xxxxxxxxx"; 20].join(" ");
    v.extend([
        "-1_0.5e1_0".to_string(),
        "0x_1G".into(),
        "a\u{2028}b\t".into(),
        "\u{feff}\u{a0}é".into(),
        "#a\n- b: c".into(),
        "a\n\tb".into(),
        "a\n🚀".into(),
        "it's".into(),
        "key=value".into(),
        "a\u{85} \u{85}\u{85}b".into(),
        word9.clone(),
        format!("*{word9}"),
        format!("\t{}  b", "a".repeat(80)),
        format!("\t{} b", "a".repeat(80)),
        format!("\t{} ", "a".repeat(90)),
        format!("{} é", "é".repeat(78)),
        format!("{} é", "é".repeat(77)),
        format!("{}  {}", "y".repeat(85), "z".repeat(10)),
    ]);
    // Folding: plain, single-quoted (leading indicator), double-quoted (an escape), at
    // several lengths around 80 columns, with runs of spaces at the folding points.
    for n in [70, 75, 78, 79, 80, 81, 82, 85, 90, 120, 160, 200, 400] {
        let base: String = LOREM.repeat(6).chars().take(n).collect();
        v.push(base.clone());
        v.push(format!("*{base}"));
        v.push(format!("{base}\t"));
        v.push(format!("{}x", base.replace("m ", "m  ")));
        v.push(format!("\u{feff}{base}"));
        v.push(format!("🚀 {base} 🚀"));
        v.push(format!("{base}\n{base}"));
        v.push(format!(" {base}\n"));
        v.push(format!("{base} "));
        v.push(base.replace(' ', "   "));
        v.push(base.replace(' ', "\u{85}"));
        v.push(format!("{base}\u{2028}{base}"));
        v.push("x".repeat(n));
        v.push(format!("{} {}", "y".repeat(n), "z".repeat(n)));
    }
    v
}

/// Keys: the order rules and the key styles.
fn hostile_keys() -> Vec<String> {
    let mut v: Vec<String> = [
        "a",
        "B",
        "b",
        "Z",
        "_",
        "-",
        ".",
        "0",
        "00",
        "01",
        "001",
        "1",
        "9",
        "10",
        "010",
        "a1",
        "a9",
        "a10",
        "a09",
        "a010",
        "a01b",
        "a1b",
        "ab",
        "a_b",
        "a-b",
        "a.b",
        "é",
        "日",
        "z",
        "yes",
        "no",
        "on",
        "true",
        "null",
        "~",
        "123",
        "1.5",
        "2024-01-02",
        "1:20",
        "",
        " ",
        " a",
        "a ",
        "a: b",
        "a #b",
        "-a",
        "*a",
        "'a",
        "\"a",
        "a\nb",
        "a\u{2028}b",
        "\u{1}",
        "🚀",
        "\u{feff}k",
        "<<",
        "a.b.c/d-e_f",
        "app.kubernetes.io/name",
        "k8s.io/x",
        "x".repeat(128).as_str(),
        "x".repeat(129).as_str(),
        "é".repeat(64).as_str(),
        "é".repeat(65).as_str(),
        format!("{} {}", "k".repeat(100), "k".repeat(100)).as_str(),
        "x".repeat(1022).as_str(),
        "<".repeat(170).as_str(),
        vec!["kkkkkkkkk"; 14].join(" ").as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.sort();
    v.dedup();
    v
}

/// Raw JSON numbers, as text.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "12345678901234567890",
    "123456789012345678901",
    "1.0",
    "-0.0",
    "0.5",
    "1e3",
    "1E+3",
    "1e-3",
    "1.5e300",
    "1e21",
    "1e20",
    "999999999999999999999",
    "123456789.0",
    "12345678.9",
    "1234567.0",
    "123456.7",
    "100000.0",
    "1000000.0",
    "0.0001",
    "0.00001",
    "1e-7",
    "5e-324",
    "1.7976931348623157e308",
    "0.1",
    "0.30000000000000004",
    "2.5e-5",
    "-2.5e-5",
    "-1e21",
    "-123456789.5",
    "4.35",
    "100",
    "1e2",
    "1.5e1",
    "9007199254740993",
    "1e-6",
    "1e-5",
    "0.000001",
    "123e-2",
];

/// One object per case, each a ConfigMap kubectl accepts; returns their JSON texts.
fn cases() -> Vec<String> {
    let obj = |i: usize, fields: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i}","labels":{{}}}},{fields}}}"#
        )
    };
    let mut out = Vec::new();
    for s in hostile_strings() {
        let i = out.len();
        // As a value at three depths, as a sequence item, and under a long key.
        out.push(obj(
            i,
            &format!(
                r#""data":{{"k":{v}}},"n":{{"a":{{"b":[{v},{{"c":{v}}}]}}}},"{long}":{v}"#,
                v = q(&s),
                long = "l".repeat(130)
            ),
        ));
    }
    // Escapes written by other encoders than Go's.
    for raw in [
        r#""\ud83d\ude80""#,
        r#""\ud800""#,
        r#""\udc00x""#,
        r#""\ud800\u0041""#,
        r#""\u003c\u003e\u0026""#,
        r#""\/""#,
        r#""\u2028""#,
        r#""\u0085""#,
        r#""a\u0085b""#,
        r#""\u00a0""#,
        r#""\uFEFF""#,
        r#""\u0000""#,
        r#""\b\f\n\r\t""#,
    ] {
        let i = out.len();
        out.push(obj(i, &format!(r#""data":{{"k":{raw}}}"#)));
    }
    // Control characters kubectl refuses, raw or escaped.
    for raw in [
        "\"\u{7f}\"",
        r#""\u007f""#,
        "\"\u{80}\"",
        r#""\u0084""#,
        r#""\u0086""#,
        r#""\u009f""#,
        r#""\ufffe""#,
        r#""\uffff""#,
        "\"\u{ffff}\"",
    ] {
        let i = out.len();
        out.push(obj(i, &format!(r#""data":{{"k":{raw}}}"#)));
    }
    // Keys, each alone (long ones, errors) and all together (order).
    let keys = hostile_keys();
    for k in &keys {
        let i = out.len();
        out.push(obj(
            i,
            &format!(
                r#""data":{{{}:"v"}},"m":{{{}:{{"x":[1,{{}}]}}}}"#,
                q(k),
                q(k)
            ),
        ));
    }
    // go-yaml's key comparison is not transitive for some sets (`a9` < `a10` < `a1b` < `a9`),
    // and Go sorts a map's keys from a random starting order, so kubectl prints such a set in
    // varying orders from run to run; the set compared here leaves out `a1b` and `a01b`,
    // which make it one.
    let all: Vec<String> = keys
        .iter()
        .filter(|k| k.len() < 170 && *k != "a1b" && *k != "a01b")
        .enumerate()
        .map(|(n, k)| format!("{}:{n}", q(k)))
        .collect();
    let i = out.len();
    out.push(obj(i, &format!(r#""data":{{{}}}"#, all.join(","))));
    for k in [
        "k".repeat(1022),
        "k".repeat(1023),
        format!("{}{}", "<".repeat(170), "k".repeat(2)),
        format!("{}{}", "<".repeat(170), "k".repeat(3)),
        "a\u{85}b".to_string(),
        "\u{7f}".to_string(),
    ] {
        let i = out.len();
        out.push(obj(i, &format!(r#""data":{{{}:"v"}}"#, q(&k))));
    }
    // Numbers.
    let nums: Vec<String> = NUMBERS
        .iter()
        .enumerate()
        .map(|(n, x)| format!(r#""n{n:02}":{x}"#))
        .collect();
    let i = out.len();
    out.push(obj(
        i,
        &format!(
            r#""nums":{{{}}},"list":[{}]"#,
            nums.join(","),
            NUMBERS.join(",")
        ),
    ));
    for x in ["1e400", "-1e400"] {
        let i = out.len();
        out.push(obj(i, &format!(r#""n":{x}"#)));
    }
    // Shapes.
    for shape in [
        r#""a":{},"b":[],"c":null,"d":[{}],"e":[[]],"f":[null,true,false],"g":{"h":{}}"#,
        r#""a":[[1,[2,[3]]],[{"x":[{"y":[]}]}]],"b":[{"c":"d","e":["f"]},{}]"#,
        r#""a":[{"b":"x\ny"},"p\nq",["r\ns"]],"c":{"d\ne":{"f":1},"g\nh":[1,2],"i\nj":[],"k\nl":"m\nn"}"#,
        r#""a":{"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":{"b":[1]}}"#,
        r#""dup":1,"dup":2,"m":{"k":"a","k":{"z":1},"j":0}"#,
    ] {
        let i = out.len();
        out.push(obj(i, shape));
    }
    for depth in [9998, 9999, 10000] {
        let i = out.len();
        out.push(obj(
            i,
            &format!(r#""deep":{}{}"#, "[".repeat(depth), "]".repeat(depth)),
        ));
    }
    out
}

fn kubectl_version() -> Option<String> {
    let o = Command::new("kubectl")
        .args(["version", "--client"])
        .env("HOME", "/nonexistent")
        .output()
        .ok()?;
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

/// kubectl's YAML for one object file: Ok(stdout) or Err(stderr).
fn kubectl_yaml(file: &Path) -> Result<String, String> {
    let o = Command::new("kubectl")
        .args(["label", "--local", "-o", "yaml", "-f"])
        .arg(file)
        .arg("foo-")
        .env("HOME", "/nonexistent")
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run kubectl");
    if o.status.success() {
        Ok(String::from_utf8(o.stdout).expect("kubectl prints UTF-8"))
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[test]
fn kubectl_prints_hostile_objects_as_we_do() {
    let Some(version) = kubectl_version() else {
        eprintln!(
            "\n!!!!!!!! SKIPPED kubectl oracle: kubectl is not on PATH (kubectl 1.32 runs it offline) !!!!!!!!\n"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let mut want_out = String::new();
    let mut want_errors = 0;
    let mut ours = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        std::fs::write(tmp.path().join(format!("{i:04}.json")), c).unwrap();
        let y = json_to_yaml(c);
        match &y {
            Ok(y) => want_out.push_str(y),
            Err(_) => want_errors += 1,
        }
        ours.push(y);
    }
    // All files in one run (kubectl takes them in name order, prints the documents one after
    // the other and reports the objects it refuses at the end); per file only to say which
    // differ.
    let o = Command::new("kubectl")
        .args(["label", "--local", "-o", "yaml", "-f"])
        .arg(tmp.path())
        .arg("foo-")
        .env("HOME", "/nonexistent")
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run kubectl");
    // An object only one side refuses shows in the printed documents, so they decide.
    if String::from_utf8_lossy(&o.stdout) == want_out {
        eprintln!(
            "kubectl ({version}) agrees on {} objects ({want_errors} refused by both)",
            cases.len()
        );
        return;
    }
    let mut bad = Vec::new();
    for (i, (c, y)) in cases.iter().zip(&ours).enumerate() {
        let file = tmp.path().join(format!("{i:04}.json"));
        match (kubectl_yaml(&file), y) {
            (Ok(k), Ok(y)) if &k == y => {}
            (Err(_), Err(_)) => {}
            (k, y) => {
                let at = |s: &str, n: usize| s.lines().nth(n).unwrap_or("<end>").to_string();
                let detail = match (&k, y) {
                    (Ok(k), Ok(y)) => {
                        let n = k
                            .lines()
                            .zip(y.lines())
                            .position(|(a, b)| a != b)
                            .unwrap_or(k.lines().count().min(y.lines().count()));
                        format!(
                            "line {}:\n  kubectl: {:?}\n  ours:    {:?}",
                            n + 1,
                            at(k, n),
                            at(y, n)
                        )
                    }
                    (Err(e), Ok(_)) => format!("kubectl failed: {}", e.trim()),
                    (Ok(_), Err(e)) => format!("we failed: {e}"),
                    _ => unreachable!(),
                };
                let input: String = c.chars().take(300).collect();
                bad.push(format!("case {i} {input:?}\n  {detail}"));
            }
        }
    }
    panic!(
        "kubectl ({version}) differs on {} of {} objects:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

/// Export strips the YAML document read from an object's text, not its JSON tree: for
/// every sample and hostile case the document path prints what the tree path prints, with
/// every owner reference's uid among the exported ones and with none, and the tree path
/// never declines where the document path prints.
#[test]
fn export_document_path_prints_what_the_tree_path_prints() {
    use reshift::k8s::export::{read_document, strip};
    use reshift::k8s::yaml::write_yaml_tree;
    let tmp = tempfile::tempdir().unwrap();
    let samples = samples(&unpack_dev_set(tmp.path(), false));
    let texts = cases()
        .into_iter()
        .chain(samples.into_iter().map(|(_, compact, _)| compact));
    let mut same = 0;
    for json in texts {
        let Ok(tree) = reshift::k8s::jsontree::parse(json.as_bytes()) else {
            continue;
        };
        let owners: std::collections::HashSet<String> = tree
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .map(|r| match r {
                reshift::k8s::jsontree::J::Arr(refs) => refs
                    .iter()
                    .filter_map(|r| r.get("uid")?.as_str().map(str::to_string))
                    .collect(),
                _ => Default::default(),
            })
            .unwrap_or_default();
        for uids in [Default::default(), owners] {
            let mut t = tree.clone();
            strip(&mut t, &uids);
            let mut from_tree = String::new();
            let tree_ok = write_yaml_tree(&t, &mut from_tree).is_some();
            match read_document(&json) {
                Ok(mut d) if !d.folded() => {
                    strip(&mut d, &uids);
                    let mut from_doc = String::new();
                    d.write(&mut from_doc);
                    assert!(tree_ok, "{json}: the tree path declines");
                    assert_eq!(from_doc, from_tree, "{json}");
                    same += 1;
                }
                // Refused, or read back changed: export takes the tree path.
                _ => {}
            }
        }
    }
    assert!(same >= 200, "only {same} texts went the document path");
    eprintln!("{same} stripped texts printed the same from the document");
}

/// The YAML written from a JSON tree already read (as export and diff write it, after
/// stripping fields) is the YAML of the tree's text, for every hostile case and every
/// sample; where the text path fails, the tree path declines and leaves its output alone.
#[test]
fn tree_path_prints_what_the_text_path_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = samples(&unpack_dev_set(tmp.path(), false));
    let texts = cases()
        .into_iter()
        .chain(samples.into_iter().map(|(_, compact, _)| compact));
    let (mut same, mut declined) = (0, 0);
    for json in texts {
        let Ok(tree) = reshift::k8s::jsontree::parse(json.as_bytes()) else {
            continue;
        };
        let mut written = String::new();
        reshift::k8s::diff::write_tree(&mut written, &tree);
        let mut out = String::from("x");
        match reshift::k8s::yaml::write_yaml_tree(&tree, &mut out) {
            Some(()) => {
                assert_eq!(
                    Some(&out[1..]),
                    json_to_yaml(&written).ok().as_deref(),
                    "{json}"
                );
                same += 1;
            }
            None => {
                assert_eq!(out, "x", "{json}");
                declined += 1;
            }
        }
    }
    assert!(same >= 100, "only {same} texts went the tree path");
    eprintln!("{same} texts printed the same from their tree; {declined} declined");
}
