//! `reshift serve` builds a Table row (and tests a selector) from an object written with only
//! the members the row reads (`render_object_json_shaped`). Over every object of a data dir
//! a real etcd 3.4 wrote with Kubernetes objects (../shared/tools/gen_etcd.py), what the
//! row reads of that text — the parsed members and the metadata text that becomes the
//! row's PartialObjectMetadata — are what the whole served object gives, and the cells and
//! the selected fields are those of the whole object, for pods' own shape and for every
//! other built-in's.

mod common;
use common::*;
use reshift::k8s::object::{decode_object_json, decode_object_json_shaped};
use reshift::k8s::render::View;
use reshift::k8s::schema::Release;
use reshift::serve::table::{Printer, Shape, light};
use serde_json::Value;

/// What label and field selectors read, for every kind the apiserver offers fields of.
const SELECTED: &[&str] = &[
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/labels",
    "/spec/nodeName",
    "/spec/restartPolicy",
    "/spec/schedulerName",
    "/spec/serviceAccountName",
    "/spec/hostNetwork",
    "/spec/unschedulable",
    "/spec/volumeName",
    "/spec/signerName",
    "/status/phase",
    "/status/podIP",
    "/status/nominatedNodeName",
    "/status/replicas",
    "/status/succeeded",
    "/involvedObject",
    "/reason",
    "/reportingComponent",
    "/source/component",
    "/type",
];

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn shaped_objects_give_the_rows_of_whole_ones() {
    if !etcd_available("serve_rows") {
        return;
    }
    let data = gen_data_dir("serve-rows", 600, 150, 30, 23);
    let dump = json_lines(&ok(&["dump", data.to_str().unwrap()]));
    let now = 1_800_000_000;
    let (mut compared, mut pods) = (0usize, 0usize);
    let (mut whole_bytes, mut shaped_bytes) = (0usize, 0usize);
    for kv in &dump {
        let key = String::from_utf8(base64_decode(kv["key"].as_str().unwrap())).unwrap();
        let value = base64_decode(kv["value"].as_str().unwrap());
        let view = View::served(Release::NEWEST, kv["mod_revision"].as_i64().unwrap());
        let Ok(whole) = decode_object_json(&value, &view) else {
            continue;
        };
        let resource = key.split('/').nth(2).unwrap_or("");
        // The kind's own printer, and the default one (whose shape the selectors use).
        let mut printers = vec![Printer::Default];
        if let Some(k) = reshift::serve::table::BUILTIN_PRINTED
            .iter()
            .find(|k| **k == resource)
        {
            printers.push(Printer::Builtin(k));
        }
        let full: Value = serde_json::from_str(&whole).unwrap();
        let meta = light(&whole, Shape::Drop(&[]))
            .unwrap()
            .metadata
            .unwrap()
            .get();
        for p in &printers {
            let shaped = decode_object_json_shaped(&value, &view, Some(p.shape())).unwrap();
            let a = light(&whole, p.shape()).expect("the whole object parses");
            let b = light(&shaped, p.shape()).expect("the shaped object parses");
            assert_eq!(a.value, b.value, "{key}: what the row reads");
            assert_eq!(Some(meta), b.metadata.map(|m| m.get()), "{key}: metadata");
            // The cells, and what the selectors read, are those of the whole object.
            assert_eq!(p.cells(&full, now), p.cells(&b.value, now), "{key}");
            for path in SELECTED {
                assert_eq!(full.pointer(path), b.value.pointer(path), "{key}: {path}");
            }
            compared += 1;
            if resource == "pods" && matches!(p, Printer::Builtin(_)) {
                pods += 1;
                whole_bytes += whole.len();
                shaped_bytes += shaped.len();
            }
        }
    }
    assert!(compared > 1000, "{compared} objects compared");
    assert!(pods > 50, "{pods} pods compared");
    // The point of the shape: a pod's row is read from a small part of the pod.
    assert!(
        shaped_bytes * 3 < whole_bytes,
        "pods: {shaped_bytes} bytes shaped, {whole_bytes} whole"
    );
    let _ = std::fs::remove_dir_all(&data);
}
