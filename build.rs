//! Gives the shared library an install name that loaders need: Android refuses (or warns about)
//! a library without DT_SONAME, and Apple links against the install name recorded inside it.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnegsync.so");
        }
        "macos" | "ios" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libnegsync.dylib");
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
