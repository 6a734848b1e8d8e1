//! Build script: names the C shared library for its loader and, with the non-default feature
//! `header`, regenerates `include/negsync.h` with cbindgen.
//!
//! The soname (Linux, BSD) or install name (macOS, iOS) carries the major version, so that a
//! program linked against `libnegsync.so.0` is never loaded with an ABI-incompatible
//! `libnegsync.so.1` (README, "Versioning"). Android keeps the bare `libnegsync.so`: an APK ships
//! `lib/<abi>/libnegsync.so` and its loader finds a library by that file name only.
//! `rustc-link-arg` and not `rustc-cdylib-link-arg`: the package declares no cdylib (`make lib`
//! asks for one on the command line, see Cargo.toml), and cargo warns about the latter then. The
//! argument also reaches this package's own test and example executables, where a soname is inert;
//! a crate that depends on negsync never sees it, and an rlib is not linked at all.
//!
//! The header is checked in, and `tests/header.rs` fails when it is stale; `cargo build
//! --features header` rewrites it in place (the same as `NEGSYNC_BLESS=1 cargo test --test header`).
//! Off by default, so that a Rust user's build does not compile cbindgen.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "android" => println!("cargo:rustc-link-arg=-Wl,-soname,libnegsync.so"),
        "macos" | "ios" => {
            println!("cargo:rustc-link-arg=-Wl,-install_name,@rpath/libnegsync.{major}.dylib")
        }
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-link-arg=-Wl,-soname,libnegsync.so.{major}")
        }
        _ => {}
    }
    #[cfg(feature = "header")]
    header::generate();
}

#[cfg(feature = "header")]
mod header {
    use std::path::Path;

    pub fn generate() {
        let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let crate_dir = Path::new(&crate_dir);
        for watched in ["src/ffi", "cbindgen.toml", "include/negsync.h"] {
            println!(
                "cargo:rerun-if-changed={}",
                crate_dir.join(watched).display()
            );
        }
        let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
            .expect("cbindgen.toml must parse");
        cbindgen::Builder::new()
            .with_crate(crate_dir)
            .with_config(config)
            .generate()
            .expect("cbindgen must generate the header")
            .write_to_file(crate_dir.join("include/negsync.h"));
    }
}
