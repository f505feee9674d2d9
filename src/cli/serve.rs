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
    /// Where to listen (plain HTTP; loopback only).
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: std::net::SocketAddr,
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
    if !a.listen.ip().is_loopback() {
        return Err(Error::invalid(format!(
            "--listen {}: reshift serve speaks plain HTTP without authentication, so it listens on loopback only",
            a.listen
        )));
    }
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
        let config = crate::serve::kubeconfig(&addr);
        match &a.kubeconfig {
            Some(p) => {
                crate::serve::write_private(p, &config)?;
                eprintln!(
                    "reshift: serving revision {} on http://{addr}; kubeconfig written to {}",
                    store.revision,
                    p.display()
                );
            }
            None => {
                out.write_all(config.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(super::common::stdout_err)?;
                eprintln!(
                    "reshift: serving revision {} on http://{addr}",
                    store.revision
                );
            }
        }
        crate::serve::serve(std::sync::Arc::new(store), listener)
            .await
            .map_err(|e| Error::invalid(format!("serving on {addr}: {e}")))
    })
}
