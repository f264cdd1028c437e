//! The `itsp` binary.
fn main() {}
