//! `reshift serve`: parses its arguments, opens the store, prints (or writes) the
//! kubeconfig, and runs the read-only Kubernetes API of [`crate::serve`].

use super::common::Input;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift serve /var/lib/etcd --kubeconfig /tmp/dead.kubeconfig &\n  kubectl --kubeconfig /tmp/dead.kubeconfig get pods -A\n  reshift serve backup.db --revision 4200 --listen 127.0.0.1:8002"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Serve the state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
    /// Where to listen. Beyond loopback, --tls-cert, --tls-key and --token-file are
    /// required (or --insecure-listen).
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: std::net::SocketAddr,
    /// Serve HTTPS with this certificate (PEM; the chain, leaf first). Its PEM goes into
    /// the kubeconfig as the certificate authority.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require this bearer token (the file's text, trimmed) on every request; a request
    /// without it is answered 401. It goes into the kubeconfig.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Listen beyond loopback without TLS and a token: anyone who reaches the port reads
    /// the cluster's objects, secrets included.
    #[arg(long)]
    pub insecure_listen: bool,
    /// Write the kubeconfig to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Serve objects as this Kubernetes release's apiserver does (1.27 to 1.37).
    #[arg(long, value_name = "X.Y", default_value_t = crate::k8s::schema::Release::NEWEST.to_string(), value_parser = parse_release)]
    pub kube_version: String,
    /// The apiserver's etcd prefix.
    #[arg(long, default_value = crate::k8s::DEFAULT_PREFIX)]
    pub k8s_prefix: String,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

fn parse_release(s: &str) -> std::result::Result<String, String> {
    crate::k8s::schema::Release::parse(s).map(|r| r.to_string())
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let secured = a.tls_cert.is_some() && a.token_file.is_some();
    if !a.listen.ip().is_loopback() && !secured && !a.insecure_listen {
        return Err(Error::invalid(format!(
            "--listen {}: beyond loopback reshift serve needs --tls-cert, --tls-key and --token-file (or --insecure-listen to serve every secret to anyone who reaches the port)",
            a.listen
        )));
    }
    let token: Option<std::sync::Arc<str>> = match &a.token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            let t = t.trim();
            if t.is_empty() || t.chars().any(|c| c.is_control() || c == ' ') {
                return Err(Error::invalid(format!(
                    "--token-file {}: the token must be one non-empty word",
                    p.display()
                )));
            }
            Some(t.into())
        }
        None => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => {
            let pem = std::fs::read(c).map_err(|e| Error::io(c, e))?;
            Some((crate::serve::tls::acceptor(c, k)?, pem))
        }
        _ => None,
    };
    let release = crate::k8s::schema::Release::parse(&a.kube_version).map_err(Error::invalid)?;
    let dec = a.decryption.load(&a.k8s_prefix)?;
    let store = crate::serve::Store::open(
        &a.input.path,
        !a.input.no_wal,
        a.revision,
        &a.k8s_prefix,
        release,
        dec,
    )?;
    for w in &store.warnings {
        eprintln!("reshift: warning: {w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::invalid(format!("starting the server runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| Error::invalid(format!("--listen {}: {e}", a.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::invalid(format!("--listen {}: {e}", a.listen)))?;
        let config = crate::serve::kubeconfig(
            &addr,
            tls.as_ref().map(|(_, pem)| pem.as_slice()),
            token.as_deref(),
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        match &a.kubeconfig {
            Some(p) => {
                crate::serve::write_private(p, &config)?;
                eprintln!(
                    "reshift: serving revision {} on {scheme}://{addr}; kubeconfig written to {}",
                    store.revision,
                    p.display()
                );
            }
            None => {
                out.write_all(config.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(super::common::stdout_err)?;
                eprintln!(
                    "reshift: serving revision {} on {scheme}://{addr}",
                    store.revision
                );
            }
        }
        let store = std::sync::Arc::new(store);
        match tls {
            Some((acceptor, _)) => {
                let l = crate::serve::tls::TlsListener::new(listener, acceptor)
                    .map_err(|e| Error::invalid(format!("--listen {addr}: {e}")))?;
                crate::serve::serve(store, l, token).await
            }
            None => crate::serve::serve(store, listener, token).await,
        }
        .map_err(|e| Error::invalid(format!("serving on {addr}: {e}")))
    })
}
