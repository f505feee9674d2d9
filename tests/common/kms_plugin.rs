//! A KMS plugin for tests, and for seeing what reshift sends a real one: a gRPC server on a
//! unix socket speaking the KMS v2 API (`/v2.KeyManagementService/` Status, Encrypt,
//! Decrypt) and the deprecated v1beta1 (`/v1beta1.KeyManagementService/` Version, Encrypt,
//! Decrypt), as kube-apiserver calls them. One local AES-256-GCM key (the "KEK") wraps
//! DEKs: a wrapped DEK is a 12-byte nonce, then the DEK sealed with the key id as the
//! authenticated data. v2 answers carry the key id and one annotation, which Decrypt
//! requires back. Every request is recorded (and echoed to stderr when asked), with sizes
//! and key ids — never a DEK.
//!
//! Shared by the tests (`mod common`) and `examples/kms_plugin.rs`.
#![allow(dead_code)]

use reshift::k8s::cipher::Gcm;
use reshift::k8s::kms::{v1beta1, v2};
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The annotation every v2 answer carries.
pub const ANNOTATION: &str = "kek.plugin.reshift.example.com";

struct State {
    kek: Gcm,
    key_id: String,
    log: Mutex<Vec<String>>,
    echo: bool,
    nonces: AtomicU64,
}

impl State {
    fn note(&self, line: String) {
        if self.echo {
            eprintln!("kms-plugin: {line}");
        }
        self.log.lock().unwrap().push(line);
    }

    fn wrap(&self, dek: &[u8]) -> Vec<u8> {
        let n = self.nonces.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        nonce[8..].copy_from_slice(&std::process::id().to_le_bytes());
        self.kek.seal(&nonce, dek, self.key_id.as_bytes())
    }

    fn unwrap(&self, wrapped: &[u8], key_id: &str) -> Result<Vec<u8>, tonic::Status> {
        self.kek.open(wrapped, key_id.as_bytes()).map_err(|_| {
            tonic::Status::invalid_argument("the DEK was not wrapped by this plugin's key")
        })
    }
}

fn short(b: &[u8]) -> String {
    let hex: String = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    format!("{} bytes {hex}…", b.len())
}

/// A running plugin; stops when dropped.
pub struct Plugin {
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Resp = http::Response<tonic::body::Body>;

async fn unary<Q, P, F>(req: http::Request<tonic::body::Body>, f: F) -> Resp
where
    Q: prost::Message + Default + Send + 'static,
    P: prost::Message + Send + 'static,
    F: Fn(Q) -> Result<P, tonic::Status> + Clone + Send + 'static,
{
    let svc = tower::service_fn(move |r: tonic::Request<Q>| {
        let f = f.clone();
        async move { f(r.into_inner()).map(tonic::Response::new) }
    });
    tonic::server::Grpc::new(tonic_prost::ProstCodec::<P, Q>::default())
        .unary(svc, req)
        .await
}

#[derive(Clone)]
struct Svc(Arc<State>);

impl tower::Service<http::Request<tonic::body::Body>> for Svc {
    type Response = Resp;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let st = self.0.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let resp = match path.as_str() {
                v2::STATUS => {
                    unary(req, move |_: v2::StatusRequest| {
                        st.note("v2 Status".into());
                        Ok(v2::StatusResponse {
                            version: "v2".into(),
                            healthz: "ok".into(),
                            key_id: st.key_id.clone(),
                        })
                    })
                    .await
                }
                v2::ENCRYPT => {
                    unary(req, move |r: v2::EncryptRequest| {
                        st.note(format!(
                            "v2 Encrypt uid={} plaintext {} bytes",
                            r.uid,
                            r.plaintext.len()
                        ));
                        Ok(v2::EncryptResponse {
                            ciphertext: st.wrap(&r.plaintext),
                            key_id: st.key_id.clone(),
                            annotations: [(ANNOTATION.to_string(), b"1".to_vec())].into(),
                        })
                    })
                    .await
                }
                v2::DECRYPT => {
                    unary(req, move |r: v2::DecryptRequest| {
                        let names: Vec<&String> = r.annotations.keys().collect();
                        st.note(format!(
                            "v2 Decrypt uid={} key_id={:?} annotations={names:?} ciphertext {}",
                            r.uid,
                            r.key_id,
                            short(&r.ciphertext)
                        ));
                        if r.annotations.get(ANNOTATION).map(Vec::as_slice) != Some(b"1") {
                            return Err(tonic::Status::invalid_argument(format!(
                                "annotation {ANNOTATION} missing"
                            )));
                        }
                        Ok(v2::DecryptResponse {
                            plaintext: st.unwrap(&r.ciphertext, &r.key_id)?,
                        })
                    })
                    .await
                }
                v1beta1::VERSION => {
                    unary(req, move |r: v1beta1::VersionRequest| {
                        st.note(format!("v1beta1 Version version={:?}", r.version));
                        Ok(v1beta1::VersionResponse {
                            version: v1beta1::API_VERSION.into(),
                            runtime_name: "reshift-test-kms".into(),
                            runtime_version: "0.1.0".into(),
                        })
                    })
                    .await
                }
                v1beta1::ENCRYPT => {
                    unary(req, move |r: v1beta1::EncryptRequest| {
                        st.note(format!("v1beta1 Encrypt plain {} bytes", r.plain.len()));
                        Ok(v1beta1::EncryptResponse {
                            cipher: st.wrap(&r.plain),
                        })
                    })
                    .await
                }
                v1beta1::DECRYPT => {
                    unary(req, move |r: v1beta1::DecryptRequest| {
                        st.note(format!(
                            "v1beta1 Decrypt version={:?} cipher {}",
                            r.version,
                            short(&r.cipher)
                        ));
                        Ok(v1beta1::DecryptResponse {
                            plain: st.unwrap(&r.cipher, &st.key_id)?,
                        })
                    })
                    .await
                }
                other => {
                    st.note(format!("unknown method {other}"));
                    tonic::Status::unimplemented(other.to_string()).into_http()
                }
            };
            Ok(resp)
        })
    }
}

impl Plugin {
    /// Listens on `socket` (created; an existing file there is replaced) with `kek` as its
    /// local key and `key_id` as its name; `echo` prints each request to stderr.
    pub fn start(socket: &Path, kek: &[u8; 32], key_id: &str, echo: bool) -> Plugin {
        let state = Arc::new(State {
            kek: Gcm::new(kek).unwrap(),
            key_id: key_id.to_string(),
            log: Mutex::new(Vec::new()),
            echo,
            nonces: AtomicU64::new(1),
        });
        let _ = std::fs::remove_file(socket);
        let std_listener = std::os::unix::net::UnixListener::bind(socket)
            .unwrap_or_else(|e| panic!("binding {}: {e}", socket.display()));
        std_listener.set_nonblocking(true).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = Svc(state.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(std_listener).unwrap();
                let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
                tonic::transport::Server::builder()
                    .serve_with_incoming_shutdown(svc, incoming, async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Plugin {
            state,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// What the plugin's Encrypt answers for `dek` (for tests that write KMS values).
    pub fn wrap(&self, dek: &[u8]) -> Vec<u8> {
        self.state.wrap(dek)
    }

    pub fn key_id(&self) -> &str {
        &self.state.key_id
    }

    /// Every request so far, one line each.
    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }

    /// Runs until the process is stopped.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
