//! The test KMS plugin as a program, to see what reshift (or a kube-apiserver) sends a KMS
//! plugin: it listens on a unix socket, prints every request it gets to stderr, and wraps
//! and unwraps DEKs with a local AES-256-GCM key.
//!
//! ```sh
//! cargo run --example kms_plugin -- /tmp/kms.sock [KEY_ID]
//! ```
//!
//! Its key comes from `RESHIFT_TEST_KEK` (64 hex digits) or is a fixed demo key: a test
//! tool, never a place for real keys.

#[path = "../tests/common/kms_plugin.rs"]
mod kms_plugin;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        eprintln!("usage: kms_plugin SOCKET [KEY_ID]");
        std::process::exit(2);
    };
    let key_id = args.next().unwrap_or_else(|| "reshift-test-kek-1".into());
    let mut kek = [0x42u8; 32];
    if let Ok(hex) = std::env::var("RESHIFT_TEST_KEK") {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        match bytes {
            Some(b) if b.len() == 32 => kek.copy_from_slice(&b),
            _ => {
                eprintln!("RESHIFT_TEST_KEK must be 64 hex digits");
                std::process::exit(2);
            }
        }
    }
    let plugin = kms_plugin::Plugin::start(socket.as_ref(), &kek, &key_id, true);
    eprintln!("kms-plugin: listening on unix://{socket} as key id {key_id:?}");
    plugin.wait();
}
