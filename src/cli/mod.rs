//! The command-line interface: parses arguments, calls the library, prints.

pub fn main() -> i32 {
    0
}
