//! The library's version, at compile time (macros) and at run time (`negsync_version`).

use core::ffi::c_char;

/// Major version of the header; a test ties these three to Cargo.toml.
pub const NEGSYNC_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const NEGSYNC_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const NEGSYNC_VERSION_PATCH: u32 = 0;

/// Bytes in a document ID.
pub const NEGSYNC_ID_SIZE: usize = 32;
// A literal, so that cbindgen can write it into the header; tied to the core here.
const _: () = assert!(NEGSYNC_ID_SIZE == crate::ID_SIZE);

const VERSION: &core::ffi::CStr =
    match core::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes())
    {
        Ok(version) => version,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The version of the linked library, e.g. "0.1.0": static, NUL-terminated, never NULL, never to be
/// freed. Compare with NEGSYNC_VERSION_* to detect a header/library mismatch. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn negsync_version() -> *const c_char {
    VERSION.as_ptr()
}
