//! Each rule of go-yaml v2 (as sigs.k8s.io/yaml v1.4 forks it) and of kubectl's JSON round
//! trip, with the exact text kubectl 1.32 prints (tests/yaml_oracle.rs runs kubectl itself on
//! these inputs and many more).

use super::*;

fn y(json: &str) -> String {
    let text = json_to_yaml(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    same_from_tree(json, Some(&text));
    text
}

/// The YAML of `json` read as a tree first ([`write_yaml_tree`]) is the text path's
/// (`want`), or the tree path declines (leaving its output as it was); it never gives a
/// YAML where the text path fails.
fn same_from_tree(json: &str, want: Option<&str>) {
    let Ok(tree) = crate::k8s::jsontree::parse(json.as_bytes()) else {
        return;
    };
    let mut out = String::from("before");
    match write_yaml_tree(&tree, &mut out) {
        Some(()) => {
            assert_eq!(
                Some(&out["before".len()..]),
                want,
                "{json}: the tree path differs"
            );
            same_as_pair(&tree);
        }
        None => assert_eq!(out, "before", "{json}: output touched"),
    }
}

/// [`write_yaml_tree_pair`] of `tree` against itself, against an object that shares none
/// of its members, and against itself with its last root member changed, gives each side
/// what [`write_yaml_tree`] gives it, or declines without touching either text (only
/// where a root is no object with members, or a side is refused).
fn same_as_pair(tree: &crate::k8s::jsontree::J<'_>) {
    use crate::k8s::jsontree::{J, parse};
    let other = parse(br#"{"zz":[1,{"a":"b"}],"k":null,"a b":"x"}"#).unwrap();
    let mut changed = tree.clone();
    if let J::Obj(m) = &mut changed {
        if let Some((_, v)) = m.last_mut() {
            *v = J::Arr(vec![J::Null, v.clone()]);
        }
    }
    let alone = |t: &J<'_>| {
        let mut s = String::new();
        write_yaml_tree(t, &mut s).map(|()| s)
    };
    for (a, b) in [
        (tree, tree),
        (tree, &other),
        (&other, tree),
        (tree, &changed),
        (&changed, tree),
    ] {
        let (mut ya, mut yb) = (String::from("a:"), String::from("b:"));
        let objects = [a, b]
            .iter()
            .all(|t| matches!(t, J::Obj(m) if !m.is_empty()));
        let (want_a, want_b) = (alone(a), alone(b));
        if write_yaml_tree_pair(a, b, &mut ya, &mut yb) {
            assert!(objects);
            assert_eq!(Some(&ya[2..]), want_a.as_deref(), "old side");
            assert_eq!(Some(&yb[2..]), want_b.as_deref(), "new side");
        } else {
            assert!(!objects || want_a.is_none() || want_b.is_none());
            assert_eq!((ya.as_str(), yb.as_str()), ("a:", "b:"), "texts touched");
        }
    }
}

/// The YAML for `{"k": <value>}`, without the `k:` line prefix handling: the whole document.
fn v(value: &str) -> String {
    y(&format!(r#"{{"k":{value}}}"#))
}

/// `s` as a JSON string (serde_json escapes only what JSON requires).
fn jq(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn fails(json: &str) -> String {
    same_from_tree(json, None);
    match json_to_yaml(json) {
        Ok(y) => panic!("{json}: expected an error, got {y:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn keys_sort_in_go_yaml_order_not_byte_order() {
    // Non-letters before letters; digit runs as numbers; letters by code point.
    let json = r#"{"b":1,"a":2,"B":3,"_":4,"1":5,"10":6,"9":7,"a10":8,"a9":9,"é":10,"-":11,
        "Z":12,"z":13,"日":14,"a2":15,"a٣":16}"#;
    assert_eq!(
        y(json),
        "'-': 11\n_: 4\n\"1\": 5\n\"9\": 7\n\"10\": 6\nB: 3\nZ: 12\na: 2\na2: 15\na9: 9\n\
         a10: 8\na٣: 16\nb: 1\nz: 13\né: 10\n日: 14\n"
    );
}

#[test]
fn key_order_zero_runs() {
    // Leading zeros: equal numbers sort by run length; a zero after a non-zero digit starts a
    // run worth 1 (go-yaml's quirk), so "x00y" < "x0y".
    let json =
        r#"{"a01":0,"a1":0,"a001":0,"a10":0,"a010":0,"a2":0,"a02":0,"x0y":0,"x00y":0,"x1y":0}"#;
    let out = y(json);
    let keys: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "a1", "a01", "a001", "a2", "a02", "a10", "a010", "x00y", "x0y", "x1y"
        ]
    );
    let json = r#"{"k8s.io/b":0,"k8s.io/a":0,"app.kubernetes.io/name":0,"app":0,"app1":0,"app10":0,"app2":0}"#;
    let keys: Vec<String> = y(json)
        .lines()
        .map(|l| l.rsplit_once(':').unwrap().0.to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "app",
            "app.kubernetes.io/name",
            "app1",
            "app2",
            "app10",
            "k8s.io/a",
            "k8s.io/b"
        ]
    );
}

#[test]
fn key_order_never_fails_on_inconsistent_sets() {
    // a9 < a10 < a1b < a9: kubectl's own order varies from run to run here; ours is fixed
    // and every key is printed once.
    let keys = ["a9", "a10", "a1b", "a09", "a010", "a01b", "b", "a"];
    let mut json = String::from("{");
    for (i, k) in keys.iter().cycle().take(200).enumerate() {
        json.push_str(&format!(r#""{k}{}":{i},"#, "x".repeat(i / keys.len())));
    }
    json.pop();
    json.push('}');
    let out = y(&json);
    assert_eq!(out.lines().count(), 200);
    assert_eq!(out, y(&json));
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    assert_eq!(y(r#"{"a":1,"b":2,"a":3}"#), "a: 3\nb: 2\n");
    let many: Vec<String> = (0..50).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let json = format!(r#"{{{},"k7":"again"}}"#, many.join(","));
    let out = y(&json);
    assert_eq!(out.lines().count(), 50);
    assert!(out.contains("k7: again\n"));
}

#[test]
fn numbers_as_kubectl_prints_them() {
    // Integers that fit int64 stay; everything else is a float64 that Go writes as an integer
    // below 1e21 (read back as one when it fits uint64/int64), else %g with shortest digits.
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("1.0", "1"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("12345678.9", "1.23456789e+07"),
        ("123456789.0", "123456789"),
        ("1234567.5", "1.2345675e+06"),
        ("123456.7", "123456.7"),
        ("100000.0", "100000"),
        ("0.1", "0.1"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("0.000001", "1e-06"),
        ("1e-7", "1e-07"),
        ("-2.5e-5", "-2.5e-05"),
        ("1.5e300", "1.5e+300"),
        ("5e-324", "5e-324"),
        ("1e20", "1e+20"),
        ("1e21", "1e+21"),
        ("-1e21", "-1e+21"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("9223372036854775808", "9223372036854776000"),
        ("-9223372036854775809", "-9.223372036854776e+18"),
        ("12345678901234567890", "12345678901234567000"),
        ("18446744073709551615", "1.8446744073709552e+19"),
        ("123456789012345678901", "1.2345678901234568e+20"),
        ("0.30000000000000004", "0.30000000000000004"),
    ];
    for (json, want) in cases {
        assert_eq!(v(json), format!("k: {want}\n"), "{json}");
    }
    // 1e20 is below 1e21 but above uint64: Go writes 100000000000000000000, go-yaml reads a
    // float and prints it with %g.
    assert_eq!(v("100000000000000000000"), "k: 1e+20\n");
    assert_eq!(
        v("[1,-2,3.5,true,false,null]"),
        "k:\n- 1\n- -2\n- 3.5\n- true\n- false\n- null\n"
    );
}

#[test]
fn strings_that_read_back_as_other_types_are_double_quoted() {
    for s in [
        "",
        "yes",
        "Yes",
        "YES",
        "no",
        "on",
        "off",
        "y",
        "Y",
        "n",
        "N",
        "true",
        "True",
        "false",
        "null",
        "Null",
        "~",
        "123",
        "-123",
        "+123",
        "1e3",
        "1.5",
        ".5",
        "5.",
        "1_000",
        "0x1F",
        "0o17",
        "0b101",
        "0b+1",
        "-0b101",
        "08",
        "0",
        "-0",
        ".nan",
        ".inf",
        "-.inf",
        "+.INF",
        ".1_2",
        "1:20",
        "-1:20",
        "12:30:45.5",
        "190:20:30",
        "2024-01-02",
        "2024-1-2",
        "2024-02-29",
        "2024-01-02T03:04:05Z",
        "2024-01-02t03:04:05.5Z",
        "2024-01-02T03:04:05+01:00",
        "2024-01-02 03:04:05",
        "2024-01-02   3:4:5,5",
        // Underscores go before the number tests.
        "0x_1F",
        "1__0",
        "-1_0.5e1_0",
    ] {
        assert_eq!(v(&jq(s)), format!("k: \"{s}\"\n"), "{s:?}");
    }
}

#[test]
fn strings_that_only_look_like_numbers_stay_plain() {
    for s in [
        "<<",
        "1e400",
        ".1e400",
        "0x",
        "0xG",
        "1:60",
        "1_2:30x",
        "._1",
        ".1_",
        ".Nan",
        "inf",
        "nan",
        "Infinity",
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:04:05+25:00",
        "2024-01-02T03:04:05",
        "2024-01-02 03:04:05Z",
        "20240-01-02",
        "1.2.3",
        "v1.2.3",
        "1a",
        "-1a",
        "0x_1G",
        "1e",
        "e3",
        "a#b",
        "it's",
        "a:b",
        "a?b",
        "key=value",
        "é",
        "日本語",
        "a\u{a0}b",
    ] {
        assert_eq!(v(&jq(s)), format!("k: {s}\n"), "{s:?}");
    }
}

#[test]
fn indicators_and_edge_spaces_take_single_quotes() {
    let cases = [
        ("-", "'-'"),
        ("- a", "'- a'"),
        ("*a", "'*a'"),
        ("&a", "'&a'"),
        ("!a", "'!a'"),
        ("|a", "'|a'"),
        (">a", "'>a'"),
        ("%a", "'%a'"),
        ("@a", "'@a'"),
        ("`a", "'`a'"),
        ("#a", "'#a'"),
        ("[a", "'[a'"),
        ("{a", "'{a'"),
        (",a", "',a'"),
        ("? a", "'? a'"),
        (": a", "': a'"),
        ("a: b", "'a: b'"),
        ("a:", "'a:'"),
        ("a #b", "'a #b'"),
        ("'a", "'''a'"),
        ("\"a", "'\"a'"),
        ("a'b", "a'b"),
        (" a", "' a'"),
        ("a ", "'a '"),
        (" ", "' '"),
        ("---", "'---'"),
        ("...a", "'...a'"),
        ("?a", "?a"),
        ("-a", "-a"),
        (":a", ":a"),
    ];
    for (s, want) in cases {
        assert_eq!(v(&jq(s)), format!("k: {want}\n"), "{s:?}");
    }
}

#[test]
fn unprintable_characters_are_escaped_in_double_quotes() {
    let cases = [
        (r#""a\tb""#, r#""a\tb""#),
        (
            r#""\u0000\u0007\b\u000b\f\r\u001b\u0001""#,
            r#""\0\a\b\v\f\r\e\x01""#,
        ),
        (r#""🚀""#, r#""\U0001F680""#),
        (r#""a\ud83d\ude80b""#, r#""a\U0001F680b""#),
        (r#""a\u2028b\t""#, r#""a\Lb\t""#),
        (r#""a\u2029 b\r\n""#, r#""a\P b\r\n""#),
        (r#""a\ufeff""#, r#""a\uFEFF""#),
        (r#""a\\b\"c\t""#, r#""a\\b\"c\t""#),
        (r#""\u00a0\t""#, "\"\u{a0}\\t\""),
        (r#""\udbff\udfff""#, r#""\U0010FFFF""#),
        // go-yaml tests the start of the whole value for a BOM: then every character escapes.
        (r#""\ufeffa b""#, r#""\uFEFF\x61\x20\x62""#),
        (r#""\ufeff\u00a0é""#, r#""\uFEFF\_\xE9""#),
    ];
    for (json, want) in cases {
        assert_eq!(v(json), format!("k: {want}\n"), "{json}");
    }
    // Unpaired surrogates are U+FFFD, which is printable.
    assert_eq!(v(r#""\ud800""#), "k: \u{fffd}\n");
    assert_eq!(v(r#""\udc00x\ud800\u0041""#), "k: \u{fffd}x\u{fffd}A\n");
}

#[test]
fn newlines_take_literal_blocks_when_they_can() {
    let cases = [
        ("a\nb", "k: |-\n  a\n  b\n"),
        ("a\n", "k: |\n  a\n"),
        ("a\n\n", "k: |+\n  a\n\n"),
        ("\n", "k: |2+\n\n"),
        ("a\n\nb", "k: |-\n  a\n\n  b\n"),
        (" a\nb", "k: |2-\n   a\n  b\n"),
        ("\na", "k: |2-\n\n  a\n"),
        ("a\n b", "k: |-\n  a\n   b\n"),
        ("#a\n- b: c", "k: |-\n  #a\n  - b: c\n"),
        // A trailing space, a space before a newline, or a special character: double quotes.
        ("a\nb ", "k: \"a\\nb \"\n"),
        ("a \nb", "k: \"a \\nb\"\n"),
        ("a\n\tb", "k: \"a\\n\\tb\"\n"),
        ("a\n🚀", "k: \"a\\n\\U0001F680\"\n"),
    ];
    for (s, want) in cases {
        assert_eq!(v(&jq(s)), want, "{s:?}");
    }
    // In a sequence and nested.
    assert_eq!(
        y(r#"{"a":["x\ny",{"b":"p\nq"}]}"#),
        "a:\n- |-\n  x\n  y\n- b: |-\n    p\n    q\n"
    );
    // U+2028 is a line break to go-yaml but not a newline: plain is refused, single quotes
    // carry it, and the next line is indented.
    assert_eq!(v(r#""a\u2028b""#), "k: 'a\u{2028}  b'\n");
    assert_eq!(v(r#""a\u2028b\nc""#), "k: |-\n  a\u{2028}  b\n  c\n");
}

#[test]
fn nel_folds_like_a_line_break_in_the_yaml_reader() {
    // kubectl's encoder writes U+0085 raw; go-yaml reads it as a line break inside the
    // quoted scalar and folds it with the spaces around it.
    let cases = [
        ("a\u{85}b", "k: a b\n"),
        ("a \u{85}  b", "k: a b\n"),
        ("\u{85}a", "k: ' a'\n"),
        ("a\u{85}", "k: 'a '\n"),
        ("a\u{85}\u{85}b", "k: |-\n  a\n  b\n"),
        ("a\u{85} \u{85}\u{85}b", "k: |-\n  a\n\n  b\n"),
        ("a\u{85}---b", "k: a ---b\n"),
        ("a\u{85}--", "k: a --\n"),
    ];
    for (s, want) in cases {
        assert_eq!(v(&jq(s)), want, "{s:?}");
        // Escaped the same.
        let esc = jq(s).replace('\u{85}', "\\u0085");
        assert_eq!(v(&esc), want, "{esc}");
    }
    assert!(fails("{\"k\":\"a\u{85}--- b\"}").contains("document indicator"));
    assert!(fails("{\"k\":\"a\u{85}...\u{85}\"}").contains("document indicator"));
}

#[test]
fn long_plain_strings_fold_at_single_spaces_past_80_columns() {
    let word = "xxxxxxxxx";
    let s = vec![word; 20].join(" ");
    let line = |n: usize| vec![word; n].join(" ");
    assert_eq!(
        v(&jq(&s)),
        format!("k: {}\n  {}\n  {}\n", line(8), line(8), line(4))
    );
    // Deeper: continuation lines are indented two more than the key.
    assert_eq!(
        y(&format!(r#"{{"a":{{"b":[{}]}}}}"#, jq(&s))),
        format!(
            "a:\n  b:\n  - {}\n    {}\n    {}\n",
            line(8),
            line(8),
            line(4)
        )
    );
    // Runs of spaces are never a folding point, nor is a space followed by another.
    let s2 = format!("{}  {}", "y".repeat(85), "z".repeat(10));
    assert_eq!(v(&jq(&s2)), format!("k: {s2}\n"));
    // No space, no fold.
    let s3 = "w".repeat(200);
    assert_eq!(v(&jq(&s3)), format!("k: {s3}\n"));
    // Columns count characters, not bytes.
    let s4 = format!("{} {}", "é".repeat(78), "é");
    assert_eq!(v(&jq(&s4)), format!("k: {}\n  é\n", "é".repeat(78)));
    let s5 = format!("{} {}", "é".repeat(77), "é");
    assert_eq!(v(&jq(&s5)), format!("k: {s5}\n"));
}

#[test]
fn quoted_strings_fold_too() {
    let word = "xxxxxxxxx";
    let line = |n: usize| vec![word; n].join(" ");
    // Single quotes: the opening quote takes a column.
    let s = format!("*{}", vec![word; 20].join(" "));
    assert_eq!(
        v(&jq(&s)),
        format!("k: '*{}\n  {}\n  {}'\n", line(8), line(8), line(4))
    );
    // Double quotes: a fold before a second space escapes it.
    let s = format!("\t{}  {}", "a".repeat(80), "b");
    assert_eq!(
        v(&jq(&s)),
        format!("k: \"\\t{}\n  \\ b\"\n", "a".repeat(80))
    );
    let s = format!("\t{} {}", "a".repeat(80), "b");
    assert_eq!(v(&jq(&s)), format!("k: \"\\t{}\n  b\"\n", "a".repeat(80)));
    // Not at the very first or last character.
    let s = format!("\t{} ", "a".repeat(90));
    assert_eq!(v(&jq(&s)), format!("k: \"\\t{} \"\n", "a".repeat(90)));
}

#[test]
fn long_and_multiline_keys_are_complex_keys() {
    let k128 = "k".repeat(128);
    assert_eq!(y(&format!(r#"{{"{k128}":1}}"#)), format!("{k128}: 1\n"));
    let k129 = "k".repeat(129);
    assert_eq!(y(&format!(r#"{{"{k129}":1}}"#)), format!("? {k129}\n: 1\n"));
    // The limit is in bytes.
    let e65 = "é".repeat(65);
    assert_eq!(y(&format!(r#"{{"{e65}":1}}"#)), format!("? {e65}\n: 1\n"));
    // A complex key's collection value starts on the ':' line.
    assert_eq!(
        y(&format!(r#"{{"{k129}":{{"a":1,"b":[1,2]}}}}"#)),
        format!("? {k129}\n: a: 1\n  b:\n  - 1\n  - 2\n")
    );
    assert_eq!(
        y(&format!(r#"{{"{k129}":[1,2]}}"#)),
        format!("? {k129}\n: - 1\n  - 2\n")
    );
    // A long key folds like a value.
    let words = vec!["kkkkkkkkk"; 14].join(" ");
    assert_eq!(
        y(&format!(r#"{{"{words}":1}}"#)),
        format!(
            "? {}\n  {}\n: 1\n",
            ["kkkkkkkkk"; 8].join(" "),
            ["kkkkkkkkk"; 6].join(" ")
        )
    );
    // Multiline keys take the literal style.
    assert_eq!(y(r#"{"a\nb":{"c":1}}"#), "? |-\n  a\n  b\n: c: 1\n");
    // Quoting applies to keys as to values; an empty key is "".
    assert_eq!(
        y(r#"{"":1,"yes":2," a":3,"a\tb":4}"#),
        "\"\": 1\n' a': 3\n\"a\\tb\": 4\n\"yes\": 2\n"
    );
}

#[test]
fn shapes() {
    assert_eq!(y("{}"), "{}\n");
    assert_eq!(y("[]"), "[]\n");
    assert_eq!(y("null"), "null\n");
    assert_eq!(y("\"x\""), "x\n");
    assert_eq!(y("\"\""), "\"\"\n");
    assert_eq!(y("\"a\\nb\""), "|-\n  a\n  b\n");
    assert_eq!(y("12.5"), "12.5\n");
    assert_eq!(y("[1,[2,3],[]]"), "- 1\n- - 2\n  - 3\n- []\n");
    assert_eq!(
        y(r#"{"a":{},"b":[],"c":null,"d":[{}],"e":[[]],"f":{"g":{}}}"#),
        "a: {}\nb: []\nc: null\nd:\n- {}\ne:\n- []\nf:\n  g: {}\n"
    );
    assert_eq!(
        y(r#"{"a":[1,[2,3],{"b":1,"c":[4]}],"d":{"e":[{"f":[[5]]}]}}"#),
        "a:\n- 1\n- - 2\n  - 3\n- b: 1\n  c:\n  - 4\nd:\n  e:\n  - f:\n    - - 5\n"
    );
    // Whitespace between tokens is JSON's business only.
    assert_eq!(
        y(" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":{ } }\n"),
        "a:\n- 1\n- 2\nb: {}\n"
    );
}

#[test]
fn refuses_what_kubectl_refuses() {
    // Characters the YAML reader refuses, raw or escaped (Go's encoder writes them raw).
    for s in [
        "\u{7f}", "\\u007f", "\u{80}", "\\u0084", "\\u0086", "\u{9f}", "\\ufffe", "\u{ffff}",
    ] {
        let e = fails(&format!(r#"{{"k":"a{s}b"}}"#));
        assert_eq!(e, "yaml: control characters are not allowed", "{s}");
    }
    // A key longer than 1024 characters as Go writes it (quotes included), or holding NEL.
    let ok = format!(r#"{{"{}":1}}"#, "k".repeat(1022));
    assert!(json_to_yaml(&ok).is_ok());
    assert!(fails(&format!(r#"{{"{}":1}}"#, "k".repeat(1023))).contains("expected ','"));
    // '<' is six characters in Go's JSON.
    assert!(json_to_yaml(&format!(r#"{{"{}kk":1}}"#, "<".repeat(170))).is_ok());
    assert!(json_to_yaml(&format!(r#"{{"{}kkk":1}}"#, "<".repeat(170))).is_err());
    assert!(fails("{\"a\u{85}b\":1}").contains("expected ','"));
    // Numbers beyond float64, nesting beyond 10000.
    assert!(fails(r#"{"n":1e400}"#).contains("out of the range"));
    assert!(fails(r#"[-1e400]"#).contains("out of the range"));
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(json_to_yaml(&deep(10_000)).is_ok());
    assert!(fails(&deep(10_001)).contains("max depth"));
    assert!(fails(&format!("{{\"a\":{}}}", deep(10_000))).contains("max depth"));
}

#[test]
fn invalid_json_is_an_error_not_a_panic() {
    for bad in [
        "",
        " ",
        "{",
        "}",
        "[",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "tru",
        "nul",
        "\"a",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"a\u{1}\"",
        "\"\t\"",
        "{\"a\":1}x",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "\u{feff}{}",
        "[\"\\ud800\\u12\"]",
        "{\"a\":[1,{\"b\":}]}",
    ] {
        let e = fails(bad);
        assert!(e.starts_with("invalid JSON"), "{bad:?}: {e}");
    }
}

#[test]
fn write_yaml_appends_and_leaves_output_alone_on_error() {
    let mut out = String::from("---\n");
    write_yaml(r#"{"a":1}"#, &mut out).unwrap();
    assert_eq!(out, "---\na: 1\n");
    assert!(write_yaml(r#"{"a":"\u007f"}"#, &mut out).is_err());
    assert_eq!(out, "---\na: 1\n");
}

#[test]
fn go_float_formatting() {
    let f = |x: f64| {
        let mut s = String::new();
        write_float(&mut s, x);
        s
    };
    assert_eq!(f(1.0), "1");
    assert_eq!(f(-1.5), "-1.5");
    assert_eq!(f(1e6), "1000000");
    assert_eq!(f(1.5e6), "1500000");
    assert_eq!(f(0.5e-4), "5e-05");
    assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
    assert_eq!(f(-0.0), "0");
    assert_eq!(f(123456.75), "123456.75");
    assert_eq!(f(1e100), "1e+100");
}

#[test]
fn resolve_rules() {
    // go-yaml's sign-after-prefix binary forms and base-60.
    assert!(resolves_to_non_string("0b-1"));
    assert!(!resolves_to_non_string("-0b-1"));
    // One binary digit too many for uint64.
    assert!(!resolves_to_non_string(
        "0b11111111111111111111111111111111111111111111111111111111111111111"
    ));
    assert!(resolves_to_non_string("0xFFFFFFFFFFFFFFFF"));
    assert!(!resolves_to_non_string("0x1FFFFFFFFFFFFFFFF"));
    assert!(resolves_to_non_string("-0x8000000000000000"));
    assert!(!resolves_to_non_string("-0x8000000000000001"));
    assert!(is_base60_float("1:20"));
    assert!(is_base60_float("1_0:5:09.5_"));
    assert!(!is_base60_float("1:60"));
    assert!(!is_base60_float("1:"));
    assert!(is_timestamp("2024-1-2T3:4:5Z"));
    assert!(is_timestamp("0000-02-29"));
    assert!(!is_timestamp("1900-02-29"));
    assert!(is_timestamp("2024-01-02T03:04:05.999999999999+24:60"));
    assert!(!is_timestamp("2024-01-02T03:04:05.+00:00"));
}

#[test]
fn plain_ascii_check_matches_the_table() {
    let table = |b: &[u8]| b.iter().all(|&x| super::PLAIN_ASCII[usize::from(x)]);
    let base = b"abcdefghijklmnopqrstuvwxyz0123456789-_./ ~!";
    for len in 0..base.len() {
        for at in 0..=len {
            for x in [
                0u8, 0x1f, b' ', b'~', 0x7f, 0x80, 0xc3, 0xff, b':', b'#', b'9', b';', b'"',
            ] {
                let mut s = base[..len].to_vec();
                s.insert(at, x);
                assert_eq!(super::all_plain_ascii(&s), table(&s), "{s:?}");
            }
        }
    }
}

#[test]
fn both_sides_of_a_change_share_the_text_of_equal_root_members() {
    use crate::k8s::jsontree::parse;
    let old = parse(
        br#"{"kind":"Pod","metadata":{"name":"web","labels":{"app":"w"}},
        "spec":{"containers":[{"name":"c","image":"nginx:1.27","args":["--a: b","x\ny"]}]},
        "status":{"phase":"Running"}}"#,
    )
    .unwrap();
    // Members in another order, one changed, one only here, one gone; an equal value
    // written with other escapes is not shared (it is written again, to the same text).
    let new = parse(
        br#"{"status":{"phase":"Running"},"kind":"Pod","apiVersion":"v1",
        "spec":{"containers":[{"name":"c","image":"nginx:1.27","args":["--a: b","x\u000ay"]}]},
        "metadata":{"name":"web","labels":{"app":"w","reshift-compare":"changed"}}}"#,
    )
    .unwrap();
    let (mut a, mut b) = (String::new(), String::new());
    assert!(write_yaml_tree_pair(&old, &new, &mut a, &mut b));
    let (mut want_a, mut want_b) = (String::new(), String::new());
    write_yaml_tree(&old, &mut want_a).unwrap();
    write_yaml_tree(&new, &mut want_b).unwrap();
    assert_eq!((a.as_str(), b.as_str()), (want_a.as_str(), want_b.as_str()));
    assert!(b.starts_with("apiVersion: v1\nkind: Pod\nmetadata:\n"));
    assert!(b.contains("    reshift-compare: changed\n"));
    // A side the tree path refuses (a character the YAML reader refuses): neither is written.
    let refused = parse(br#"{"kind":"Pod","metadata":{"name":"a\u007fb"}}"#).unwrap();
    let (mut a, mut b) = (String::new(), String::new());
    assert!(!write_yaml_tree_pair(&old, &refused, &mut a, &mut b));
    assert!(!write_yaml_tree_pair(&refused, &old, &mut a, &mut b));
    assert!(a.is_empty() && b.is_empty());
}

/// What a builder holding one member `a` (or a map key from the data) makes of a string
/// from the wire: its YAML, or `None` when it declines.
fn built(value: &'static [u8], data_key: Option<&'static [u8]>) -> Option<String> {
    let mut b = Builder::new(&[], 0);
    b.open_map();
    match data_key {
        Some(k) => b.wire_key(Cow::Borrowed(k)),
        None => b.key("a"),
    }
    b.wire_string(value);
    b.close_map();
    let d = b.finish()?;
    let mut out = String::new();
    d.write(&mut out);
    Some(out)
}

#[test]
fn builder_takes_only_strings_their_text_reads_unchanged() {
    assert_eq!(built(b"x", None).as_deref(), Some("a: x\n"));
    assert_eq!(built(b"x", Some(b"k")).as_deref(), Some("k: x\n"));
    assert_eq!(
        built("é\t".as_bytes(), None).as_deref(),
        Some("a: \"é\\t\"\n")
    );
    // DEL, C1 controls (NEL among them), U+FFFE and bytes that are not UTF-8.
    let refused: [&'static [u8]; 6] = [
        b"a\x7fb",
        "\u{80}".as_bytes(),
        "x\u{85}y".as_bytes(),
        "\u{9f}".as_bytes(),
        "\u{fffe}".as_bytes(),
        b"\xff",
    ];
    for s in refused {
        assert_eq!(built(s, None), None, "{s:?}");
        assert_eq!(built(b"x", Some(s)), None, "{s:?} as a key");
        // The text of the same string is refused or read back changed.
        if let Ok(text) = std::str::from_utf8(s) {
            let json = format!("{{\"a\":{}}}", serde_json::to_string(text).unwrap());
            assert!(Document::read(&json).map_or(true, |d| d.folded()), "{json}");
        }
    }
    // A key longer than go-yaml reads as one.
    let long: &'static [u8] = Box::leak(vec![b'k'; 1100].into_boxed_slice());
    assert_eq!(built(b"x", Some(long)), None);
}

#[test]
fn builder_leaves_out_what_read_leaving_out_leaves_out() {
    const SKIP: &[&[&str]] = &[&["status"], &["metadata", "uid"]];
    let mut b = Builder::new(SKIP, 0);
    b.open_map();
    // A NEL the reader folds is passed over unread where it is left out.
    b.key("status");
    b.open_map();
    b.key("x");
    b.wire_string("\u{85}".as_bytes());
    b.close_map();
    b.key("metadata");
    b.open_map();
    b.key("uid");
    b.wire_string(b"u");
    b.key("name");
    b.wire_string(b"n");
    b.close_map();
    b.key("kind");
    b.open_seq();
    b.int(1);
    b.null();
    b.close_seq();
    b.close_map();
    let mut got = String::new();
    b.finish().unwrap().write(&mut got);
    let json = r#"{"status":{"x":"y"},"metadata":{"uid":"u","name":"n"},"kind":[1,null]}"#;
    let mut want = String::new();
    Document::read_leaving_out(json, SKIP)
        .unwrap()
        .write(&mut want);
    assert_eq!(got, want);
    assert_eq!(got, "kind:\n- 1\n- null\nmetadata:\n  name: \"n\"\n");
    // What the reader refuses is refused there too.
    let mut b = Builder::new(SKIP, 0);
    b.open_map();
    b.key("status");
    b.wire_string(b"\x7f");
    b.close_map();
    assert!(b.finish().is_none());
    assert!(Document::read_leaving_out(r#"{"status":"\u007f"}"#, SKIP).is_err());
}

/// Every key the fast path writes as it is would get the plain style from the analysis:
/// all the schemas' member names, and every ASCII letter-and-digit string of up to three
/// characters (which holds all of go-yaml's words of that length).
#[test]
fn plain_names_are_plain() {
    let mut keys: Vec<String> = crate::k8s::schema::MESSAGES
        .iter()
        .flat_map(|m| m.fields.iter().map(|f| f.json.to_string()))
        .collect();
    let alnum: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    for &a in &alnum {
        keys.push(a.to_string());
        for &b in &alnum {
            keys.push(format!("{a}{b}"));
            for &c in &alnum {
                keys.push(format!("{a}{b}{c}"));
            }
        }
    }
    keys.extend(["true", "True", "FALSE", "null", "Null", "yes", "off", "On"].map(String::from));
    let mut fast = 0;
    for k in &keys {
        if plain_name(k) {
            let a = analyze(k);
            assert!(!a.multiline, "{k}");
            assert_eq!(string_style(k, &a, true), Style::Plain, "{k}");
            fast += 1;
        } else {
            assert!(
                !k.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                    || is_special_word(k)
                    || !k.bytes().all(|c| c.is_ascii_alphanumeric()),
                "{k} left to the analysis"
            );
        }
    }
    assert!(fast > 200_000, "{fast}");
    for w in ["y", "n", "on", "No", "true", "NULL"] {
        assert!(!plain_name(w), "{w}");
    }
}

/// The string values written plain without analysis are those the analysis gives plain
/// and ASCII (so `write_plain` writes them the same way): checked on every schema name, a
/// sample of real values, and every string of up to three of the characters allowed.
#[test]
fn plain_values_are_plain() {
    let mut values: Vec<String> = crate::k8s::schema::MESSAGES
        .iter()
        .flat_map(|m| m.fields.iter().map(|f| f.json.to_string()))
        .collect();
    values.extend(
        [
            "IfNotPresent",
            "registry.k8s.io/pause",
            "apps/v1",
            "kube-system",
            "v1",
            "a:b",
            "y",
            "Yes",
            "OFF",
            "null",
            "nginx",
            "x-1.2_3/4",
            "e1",
            "E10",
            "abc:def",
            "a b",
            "true-ish",
            "Null.",
            "inf",
            "nan",
            "NaN",
            "Infinity",
            "a#b",
            "L",
            "T12:00",
        ]
        .map(String::from),
    );
    values.push("abcdefghij".repeat(12));
    let chars: Vec<char> = ('a'..='z')
        .chain('A'..='Z')
        .chain('0'..='9')
        .chain(['-', '.', '_', '/', ':', ' ', '#'])
        .collect();
    for &a in &chars {
        values.push(a.to_string());
        for &b in &chars {
            values.push(format!("{a}{b}"));
            for &c in &chars {
                values.push(format!("{a}{b}{c}"));
            }
        }
    }
    let mut fast = 0;
    for v in &values {
        if plain_value(v) {
            let a = analyze(v);
            assert!(a.ascii, "{v}");
            assert_eq!(string_style(v, &a, false), Style::Plain, "{v}");
            fast += 1;
        }
    }
    assert!(fast > 200_000, "{fast}");
    for w in [
        "y", "n", "on", "No", "true", "NULL", "1abc", ".5", "-a", "a:b", "a b",
    ] {
        assert!(!plain_value(w), "{w}");
    }
}

/// Documents whose numbers keep their texts apart are the same exactly when the trees read
/// from their texts are ([`crate::k8s::diff::same`]); those that do not say so.
#[test]
fn documents_are_the_same_where_their_trees_are() {
    let texts = [
        r#"{"a":1,"b":[1,2,{"c":"x"}]}"#,
        r#"{"b":[1,2,{"c":"x"}],"a":1}"#,
        r#"{"b":[1,2,{"c":"\u0078"}],"a":1}"#,
        r#"{"b":[2,1,{"c":"x"}],"a":1}"#,
        r#"{"a":1.0,"b":[1,2,{"c":"x"}]}"#,
        r#"{"a":1.00,"b":[1,2,{"c":"x"}]}"#,
        r#"{"a":1e0,"b":[1,2,{"c":"x"}]}"#,
        r#"{"a":"1","b":[1,2,{"c":"x"}]}"#,
        r#"{"a":1,"b":[1,2,{"c":"x","d":null}]}"#,
        r#"{"a":1,"b":[1,2,{"c":"x"},true]}"#,
        r#"{"a":1,"b":[1,2,{"c":"x"}],"a":2}"#,
        r#"{"a":2,"b":[1,2,{"c":"x"}]}"#,
        r#"{"a":null}"#,
        r#"{"a":false}"#,
        r#"{}"#,
        r#"[]"#,
        r#"{"a":0}"#,
        r#"{"a":0.5}"#,
        r#"{"a":5e-1}"#,
    ];
    let mut checked = 0;
    for x in texts {
        for z in texts {
            let (dx, dz) = (Document::read(x).unwrap(), Document::read(z).unwrap());
            assert!(dx.exact_numbers() && dz.exact_numbers());
            let (tx, tz) = (
                crate::k8s::jsontree::parse_str(x).unwrap(),
                crate::k8s::jsontree::parse_str(z).unwrap(),
            );
            assert_eq!(dx.same(&dz), crate::k8s::diff::same(&tx, &tz), "{x} / {z}");
            checked += usize::from(dx.same(&dz));
        }
    }
    // Each text is the same as itself, and the first three are one value.
    assert!(checked >= texts.len() + 6, "{checked}");
    for inexact in [
        r#"{"a":12345678901234567890}"#,
        r#"{"a":[-0]}"#,
        r#"{"a":-9223372036854775809}"#,
    ] {
        assert!(
            !Document::read(inexact).unwrap().exact_numbers(),
            "{inexact}"
        );
    }
    for exact in [
        r#"{"a":-9223372036854775808}"#,
        r#"{"a":-0.0}"#,
        r#"{"a":1e30}"#,
    ] {
        assert!(Document::read(exact).unwrap().exact_numbers(), "{exact}");
    }
    // A uint64 beyond int64 from the wire: a float64 that several integers share.
    let mut b = Builder::new(&[], 0);
    b.open_map();
    b.key("a");
    b.uint(u64::MAX);
    b.close_map();
    assert!(!b.finish().unwrap().exact_numbers());
}

/// [`Document::strip`] removes what [`crate::k8s::diff::strip_noise`] removes from the
/// tree: the member at the path's end, a sequence met on the way standing for its items.
#[test]
fn strip_removes_what_the_tree_strip_removes() {
    for json in [
        r#"{"status":{"conditions":[{"type":"Ready","lastProbeTime":"t","lastHeartbeatTime":"h"},{"lastProbeTime":null}]}}"#,
        r#"{"status":[{"conditions":{"lastProbeTime":1,"x":2}},{"conditions":[[{"lastHeartbeatTime":3}]]}]}"#,
        r#"{"metadata":{"name":"n","resourceVersion":"7","generation":2,"managedFields":[{}]}}"#,
        r#"{"metadata":[{"resourceVersion":"7"},{"generation":1}],"status":"lastProbeTime"}"#,
        r#"[{"metadata":{"generation":1,"uid":"u"}}]"#,
        r#"{"status":{"lastProbeTime":1,"conditions":{"lastProbeTime":2}}}"#,
    ] {
        let mut d = Document::read(json).unwrap();
        for (path, field) in crate::k8s::diff::NOISE {
            d.strip(path, field);
        }
        let mut got = String::new();
        d.write(&mut got);
        let mut tree = crate::k8s::jsontree::parse_str(json).unwrap();
        crate::k8s::diff::strip_noise(&mut tree);
        let mut text = String::new();
        crate::k8s::diff::write_tree(&mut text, &tree);
        assert_eq!(got, json_to_yaml(&text).unwrap(), "{json}");
        assert_ne!(text, json, "{json}: nothing stripped");
    }
}

/// [`write_pair`] writes what [`Document::write`] writes for each side, whichever root
/// members the two share; cut after `tail` lines of the members both end with, each side
/// is the start of its whole text, ending at a line break, holding at least those lines.
#[test]
fn pairs_are_written_as_each_alone() {
    let texts = [
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"1"}},"spec":{"containers":[{"name":"c","image":"i"}]}}"#,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"2"}},"spec":{"containers":[{"name":"c","image":"i"}]}}"#,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"j"}]},"status":{}}"#,
        r#"{"kind":"Pod","spec":"multi\nline"}"#,
        r#"{"spec":"multi\nline"}"#,
        r#"{}"#,
        r#"[1,{"a":2}]"#,
        r#""text""#,
        r#"{"a":1,"spec":{"x":[1,2,3,{"y":"z"}],"w":"one\ntwo\nthree\nfour"},"z":{"q":1,"r":2}}"#,
        r#"{"a":2,"spec":{"x":[1,2,3,{"y":"z"}],"w":"one\ntwo\nthree\nfour"},"z":{"q":1,"r":2}}"#,
        r#"{"b":2,"spec":{"x":[1,2,3,{"y":"z"}],"w":"one\ntwo\nthree\nfour"},"z":{"q":1,"r":2}}"#,
    ];
    let mut cuts = 0;
    for x in texts {
        for z in texts {
            let (dx, dz) = (Document::read(x).unwrap(), Document::read(z).unwrap());
            let (mut px, mut pz) = (String::from("old:"), String::from("new:"));
            assert!(!write_pair(&dx, &dz, &mut px, &mut pz, None));
            let (mut wx, mut wz) = (String::from("old:"), String::from("new:"));
            dx.write(&mut wx);
            dz.write(&mut wz);
            assert_eq!((&px, &pz), (&wx, &wz), "{x} / {z}");
            for tail in 0..12 {
                let (mut cx, mut cz) = (String::from("old:"), String::from("new:"));
                if !write_pair(&dx, &dz, &mut cx, &mut cz, Some(tail)) {
                    assert_eq!((&cx, &cz), (&wx, &wz), "{x} / {z}, {tail}");
                    continue;
                }
                cuts += 1;
                for (cut, whole) in [(&cx, &wx), (&cz, &wz)] {
                    // After the caller's "old:" or "new:", nothing or whole lines.
                    let text = &cut[4..];
                    assert!(
                        whole.starts_with(cut.as_str())
                            && (text.is_empty() || text.ends_with('\n')),
                        "{cut:?}"
                    );
                }
                // The lines both keep at their ends: the shared members' first lines.
                let shared = cx[4..]
                    .lines()
                    .rev()
                    .zip(cz[4..].lines().rev())
                    .take_while(|(p, q)| p == q)
                    .count();
                assert!(shared >= tail, "{x} / {z}, {tail}: {cx:?} {cz:?}");
            }
        }
    }
    assert!(cuts > 20, "{cuts}");
}
