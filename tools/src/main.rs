//! The `profiledb` command.
fn main() {}
