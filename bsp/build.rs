//! Makes `kernel.ld` visible to the board binaries, which link with `-Tkernel.ld`.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::copy("kernel.ld", out.join("kernel.ld")).expect("copy kernel.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=kernel.ld");
}
