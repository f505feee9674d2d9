fn main() {
    std::process::exit(reshift::cli::main());
}
