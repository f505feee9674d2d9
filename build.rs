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
}
