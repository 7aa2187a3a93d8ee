//! Rebuilds the crate when a file of the operator page (`web/`) is added, changed or removed:
//! the page is embedded at compile time, and a new file alone would not trigger a rebuild.

fn main() {
    println!("cargo:rerun-if-changed=web");
    println!("cargo:rerun-if-changed=migrations");
}
