//! The server's own time for one GET of `reshift serve` (issue 18: goal < 5 ms): the
//! router called in process, no socket, on a data dir a real etcd wrote (default
//! /tmp/gen30k, or RESHIFT_SERVE_BENCH_DATA; skipped when there is none). A pod as JSON,
//! as a Table row (what `kubectl get pod X` asks for) and in protobuf.

use axum::body::Body;
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    let dir = std::env::var_os("RESHIFT_SERVE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/gen30k"));
    if !dir.exists() {
        eprintln!("serve_get: no data dir at {}; skipped", dir.display());
        return;
    }
    let store = reshift::serve::Store::open(
        &dir,
        true,
        None,
        "/registry",
        reshift::k8s::schema::Release::NEWEST,
        None,
    )
    .unwrap();
    let app = reshift::serve::router(Arc::new(store), None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let get = |path: &str, accept: &str| {
        rt.block_on(async {
            let req = Request::get(path)
                .header(header::ACCEPT, accept)
                .body(Body::empty())
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
        })
    };
    // A pod from the middle of the list.
    let page: serde_json::Value =
        serde_json::from_slice(&get("/api/v1/pods?limit=500", "application/json")).unwrap();
    let items = page["items"].as_array().unwrap();
    let pod = &items[items.len() / 2]["metadata"];
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}",
        pod["namespace"].as_str().unwrap(),
        pod["name"].as_str().unwrap()
    );
    let mut g = c.benchmark_group("serve_get_pod");
    for (what, accept) in [
        ("json", "application/json"),
        (
            "table",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        ),
        ("protobuf", "application/vnd.kubernetes.protobuf"),
    ] {
        g.bench_function(what, |b| b.iter(|| get(&path, accept)));
    }
    g.finish();
    // One page of 500 as kubectl get pods -A asks for it.
    let mut g = c.benchmark_group("serve_list_page");
    g.sample_size(10);
    g.bench_function("table_500", |b| {
        b.iter(|| {
            get(
                "/api/v1/pods?limit=500",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
