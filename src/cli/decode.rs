//! `reshift decode`: what one stored value is — envelope type, encoding, encryption, and
//! the object's metadata (a JSON value is shown whole).

use super::common::stdout_err;
use crate::error::{Error, Result};
use crate::k8s::object::describe;
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecodeFormat {
    Json,
    Yaml,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift get /var/lib/etcd /registry/pods/default/web | reshift decode -\n  reshift decode value.bin -o yaml"
)]
pub struct Args {
    /// A file holding one stored value, or - for standard input.
    pub file: PathBuf,
    #[arg(short = 'o', long = "output", value_enum, default_value = "json")]
    pub format: DecodeFormat,
    /// Print the object as this Kubernetes release's apiserver writes it (1.27 to 1.37).
    #[arg(long, value_name = "X.Y", default_value_t = crate::k8s::schema::Release::NEWEST.to_string())]
    pub kube_version: String,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
    /// The etcd key the value was stored under: aesgcm and kms bind an encrypted value to
    /// it, and it picks the config's rule (`\xNN` escapes allowed).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let bytes = if a.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| Error::io("<stdin>", e))?;
        b
    } else {
        std::fs::read(&a.file).map_err(|e| Error::io(&a.file, e))?
    };
    // The object in full where it can be decoded (a built-in kind, or JSON); otherwise what
    // can be said of it: envelope, encoding, encryption, metadata.
    let release = crate::k8s::schema::Release::parse(&a.kube_version).map_err(Error::invalid)?;
    let view = crate::k8s::render::View {
        release,
        resource_version: None,
    };
    let key = a
        .key
        .as_deref()
        .map(super::common::key_arg)
        .unwrap_or_default();
    let dec = a.decryption.load(crate::k8s::DEFAULT_PREFIX)?;
    let bytes = match &dec {
        Some(d) => d
            .decrypt(&key, &bytes)
            .map_err(|e| {
                let hint = if key.is_empty() {
                    " (give --key: aesgcm and kms values are bound to their etcd key)"
                } else {
                    ""
                };
                Error::invalid(format!("{e}{hint}"))
            })?
            .into_owned(),
        None => bytes,
    };
    let what_it_is = || {
        serde_json::to_value(describe(b"", &bytes, "")).map_err(|e| Error::invalid(e.to_string()))
    };
    // The object's JSON exactly as the apiserver writes it (compact, one line).
    let json = match crate::k8s::object::decode_object_json(&bytes, &view) {
        Ok(j) => j,
        Err(_) => what_it_is()?.to_string(),
    };
    match a.format {
        DecodeFormat::Json => {
            let mut line = json;
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(stdout_err)
        }
        DecodeFormat::Yaml => {
            let y =
                crate::k8s::yaml::json_to_yaml(&json).map_err(|e| Error::invalid(e.to_string()))?;
            out.write_all(y.as_bytes()).map_err(stdout_err)
        }
    }
}
