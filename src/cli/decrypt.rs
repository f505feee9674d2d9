//! The argument every command that reads values takes to decrypt what the apiserver
//! encrypted at rest: its own `--encryption-provider-config` file.

use crate::error::{Error, Result};
use crate::k8s::encryption::Decryptor;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct Decryption {
    /// kube-apiserver's EncryptionConfiguration file: values encrypted at rest (aescbc,
    /// aesgcm, secretbox, kms v1/v2 through the plugin's socket) are decrypted with its keys.
    #[arg(long, value_name = "FILE", env = crate::k8s::encryption::CONFIG_ENV)]
    pub encryption_provider_config: Option<PathBuf>,
}

impl Decryption {
    /// The decryptor the config file describes, for keys under `prefix`; `None` without one.
    pub fn load(&self, prefix: &str) -> Result<Option<Decryptor>> {
        match &self.encryption_provider_config {
            None => Ok(None),
            Some(p) => Decryptor::from_config_file(p)
                .map(|d| Some(d.with_prefix(prefix)))
                .map_err(Error::invalid),
        }
    }

    /// For commands that keep stored bytes unless `--decrypt` is given: the decryptor when
    /// asked for, an error when asked for without a config.
    pub fn load_if(&self, decrypt: bool, prefix: &str) -> Result<Option<Decryptor>> {
        if !decrypt {
            return Ok(None);
        }
        if self.encryption_provider_config.is_none() {
            return Err(Error::invalid(format!(
                "--decrypt needs --encryption-provider-config FILE (or {})",
                crate::k8s::encryption::CONFIG_ENV
            )));
        }
        self.load(prefix)
    }
}
