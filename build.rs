// Compiles every .proto under proto/ with pure-Rust tooling (protox), so no protoc is needed.
fn main() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("proto")
        .expect("proto/ directory")
        .map(|e| e.expect("proto/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed=proto");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, ["proto"]).expect("compiling proto/");
    let mut cfg = prost_build::Config::new();
    cfg.bytes(["."]);
    cfg.compile_fds(fds).expect("generating Rust from proto/");
    k8s_schema();
}

/// Compiles proto/k8s/*.proto (the Kubernetes schemas and their JSON options) and writes
/// them as static tables to OUT_DIR/k8s_schema.rs, read by src/k8s/schema.rs.
fn k8s_schema() {
    use prost_reflect::{Kind, Value};
    use std::fmt::Write as _;
    // Kubernetes 1.27 to 1.37: a release mask's bits.
    const RELEASES: u32 = 11;
    const ALL: u32 = (1 << RELEASES) - 1;
    let mut files: Vec<String> = std::fs::read_dir("proto/k8s")
        .expect("proto/k8s directory")
        .map(|e| {
            e.expect("proto/k8s entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".proto"))
        .map(|n| format!("k8s/{n}"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed=proto/k8s");
    let mut compiler = protox::Compiler::new(["proto"]).expect("protox");
    compiler.include_imports(true);
    compiler.open_files(&files).expect("compiling proto/k8s");
    let pool = compiler.descriptor_pool();
    let ext = |n: &str| {
        pool.get_extension_by_name(&format!("reshift.k8s.{n}"))
            .unwrap_or_else(|| panic!("option {n} in proto/k8s/options.proto"))
    };
    let (e_group, e_version, e_render, e_type_meta) = (
        ext("api_group"),
        ext("api_version"),
        ext("render"),
        ext("type_meta"),
    );
    let (e_inline, e_msg_releases, e_releases) =
        (ext("inline"), ext("message_releases"), ext("releases"));
    let (e_omit, e_omitzero, e_ptr) = (ext("omitempty_in"), ext("omitzero_in"), ext("pointer_in"));
    let flag = |opts: &prost_reflect::DynamicMessage, e: &prost_reflect::ExtensionDescriptor| {
        opts.has_extension(e) && matches!(opts.get_extension(e).as_ref(), Value::Bool(true))
    };
    // A release mask (bit i is Kubernetes 1.(27+i)); `unset` when the option is absent.
    let mask = |opts: &prost_reflect::DynamicMessage,
                e: &prost_reflect::ExtensionDescriptor,
                unset: u32| {
        if !opts.has_extension(e) {
            return unset;
        }
        match opts.get_extension(e).as_ref() {
            Value::U32(m) if *m & !ALL == 0 => *m,
            other => panic!("proto/k8s: release mask {other:?} beyond the {RELEASES} releases"),
        }
    };
    let text = |opts: &prost_reflect::DynamicMessage, e: &prost_reflect::ExtensionDescriptor| {
        if !opts.has_extension(e) {
            return None;
        }
        match opts.get_extension(e).as_ref() {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    let mut msgs: Vec<prost_reflect::MessageDescriptor> = pool
        .all_messages()
        .filter(|m| m.full_name().starts_with("k8s.") && !m.is_map_entry())
        .collect();
    msgs.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    let index: std::collections::HashMap<String, usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.full_name().to_string(), i))
        .collect();
    let ty = |k: Kind| -> String {
        match k {
            Kind::String => "Ty::String".into(),
            Kind::Bytes => "Ty::Bytes".into(),
            Kind::Bool => "Ty::Bool".into(),
            Kind::Int32 => "Ty::Int32".into(),
            Kind::Int64 => "Ty::Int64".into(),
            Kind::Uint32 => "Ty::Uint32".into(),
            Kind::Uint64 => "Ty::Uint64".into(),
            Kind::Double => "Ty::Double".into(),
            Kind::Float => "Ty::Float".into(),
            Kind::Message(m) => format!("Ty::Msg({})", index[m.full_name()]),
            other => panic!("proto/k8s: unsupported field kind {other:?}"),
        }
    };
    let mut out = String::new();
    // The masks are as wide as schema.rs's releases.
    writeln!(
        out,
        "const _: () = assert!(LAST_MINOR - FIRST_MINOR + 1 == {RELEASES});"
    )
    .unwrap();
    writeln!(out, "pub static MESSAGES: [Msg; {}] = [", msgs.len()).unwrap();
    for m in &msgs {
        let mo = m.options();
        let render = match text(&mo, &e_render).as_deref() {
            None => "Plain",
            Some("time") => "Time",
            Some("microtime") => "MicroTime",
            Some("duration") => "Duration",
            Some("quantity") => "Quantity",
            Some("intorstring") => "IntOrString",
            Some("rawjson") => "RawJson",
            Some("items") => "Items",
            Some("schemaorarray") => "SchemaOrArray",
            Some("schemaorbool") => "SchemaOrBool",
            Some("schemaorstringarray") => "SchemaOrStringArray",
            Some(other) => panic!("proto/k8s: unknown render {other}"),
        };
        write!(
            out,
            "  Msg {{ name: {:?}, render: Render::{render}, type_meta: {}, fields: &[",
            m.full_name(),
            flag(&mo, &e_type_meta)
        )
        .unwrap();
        // Declaration order is Go field order, which JSON keeps; fields() sorts by number.
        let declared = m
            .descriptor_proto()
            .field
            .iter()
            .map(|p| m.get_field_by_name(p.name()).expect("declared field"));
        let msg_releases = mask(&mo, &e_msg_releases, ALL);
        for f in declared {
            let fo = f.options();
            let releases = mask(&fo, &e_releases, msg_releases);
            let rep = if f.is_map() {
                let Kind::Message(entry) = f.kind() else {
                    unreachable!()
                };
                format!(
                    "Rep::Map({}, {})",
                    ty(entry.map_entry_key_field().kind()),
                    ty(entry.map_entry_value_field().kind())
                )
            } else if f.is_list() {
                "Rep::Many".into()
            } else {
                "Rep::One".into()
            };
            let t = if f.is_map() {
                "Ty::Bytes".to_string()
            } else {
                ty(f.kind())
            };
            write!(
                out,
                "Field {{ num: {}, json: {:?}, ty: {t}, rep: {rep}, inline: {}, releases: {releases:#x}, omitempty: {:#x}, omitzero: {:#x}, pointer: {:#x} }}, ",
                f.number(),
                f.json_name(),
                flag(&fo, &e_inline),
                mask(&fo, &e_omit, 0),
                mask(&fo, &e_omitzero, 0),
                mask(&fo, &e_ptr, 0),
            )
            .unwrap();
        }
        // Field number -> 1 + place in `fields` (0: none), for numbers below 256.
        let mut by_num = Vec::new();
        for (i, p) in m.descriptor_proto().field.iter().enumerate() {
            let n = p.number() as usize;
            if n < 256 && i < 255 {
                if by_num.len() <= n {
                    by_num.resize(n + 1, 0u8);
                }
                by_num[n] = i as u8 + 1;
            }
        }
        writeln!(out, "], by_num: &{by_num:?} }},").unwrap();
    }
    writeln!(out, "];").unwrap();
    let mut kinds = Vec::new();
    for file in pool.files() {
        let fo = file.options();
        let (Some(g), Some(v)) = (text(&fo, &e_group), text(&fo, &e_version)) else {
            continue;
        };
        for m in file.messages() {
            kinds.push((
                g.clone(),
                v.clone(),
                m.name().to_string(),
                index[m.full_name()],
            ));
        }
    }
    kinds.sort();
    writeln!(
        out,
        "pub static KINDS: [(&str, &str, &str, u16); {}] = [",
        kinds.len()
    )
    .unwrap();
    for (g, v, k, i) in kinds {
        writeln!(out, "  ({g:?}, {v:?}, {k:?}, {i}),").unwrap();
    }
    writeln!(out, "];").unwrap();
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("k8s_schema.rs");
    std::fs::write(path, out).expect("writing k8s_schema.rs");
}
