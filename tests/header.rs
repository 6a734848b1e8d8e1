//! The checked-in header must be exactly what cbindgen generates from the current source.
//! To accept a change:  NEGSYNC_BLESS=1 cargo test --test header

use std::path::Path;

#[test]
fn header_is_current() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(crate_dir).join("cbindgen.toml"))
        .expect("cbindgen.toml must parse");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen must generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let checked_in_path = Path::new(crate_dir).join("include/negsync.h");
    if std::env::var_os("NEGSYNC_BLESS").is_some() {
        std::fs::write(&checked_in_path, &generated).expect("write include/negsync.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&checked_in_path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/negsync.h is stale: run  NEGSYNC_BLESS=1 cargo test --test header  and commit it"
    );
}

/// Firmware links negsync beside other C libraries: everything the header declares must carry the
/// library's prefix, or it may clash with their macros and types.
#[test]
fn header_declares_only_prefixed_names() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/negsync.h"))
            .expect("read include/negsync.h");
    let mut stray = Vec::new();
    for line in header.lines() {
        let declared = if let Some(rest) = line.strip_prefix("#define ") {
            rest.split_whitespace().next()
        } else if let Some(rest) = line.strip_prefix("typedef ") {
            // `typedef R (*name)(...)` names a function pointer; else the name comes last.
            match rest.split_once("(*") {
                Some((_, tail)) => tail.split(')').next(),
                None => rest
                    .trim_end_matches(';')
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .rfind(|word| !word.is_empty()),
            }
        } else if !line.starts_with([' ', '*', '/', '#', '}']) && line.contains('(') {
            line.split('(')
                .next()
                .and_then(|head| head.split_whitespace().last())
                .map(|name| name.trim_start_matches('*'))
        } else {
            None
        };
        if let Some(name) = declared
            && !name.starts_with("negsync_")
            && !name.starts_with("NEGSYNC_")
            && name != "extern"
        {
            stray.push(line.to_owned());
        }
    }
    assert!(
        stray.is_empty(),
        "unprefixed declarations in include/negsync.h: {stray:#?}"
    );
}

#[test]
fn header_version_macros_match_the_package() {
    assert_eq!(
        negsync::ffi::NEGSYNC_VERSION_MAJOR.to_string(),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        negsync::ffi::NEGSYNC_VERSION_MINOR.to_string(),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        negsync::ffi::NEGSYNC_VERSION_PATCH.to_string(),
        env!("CARGO_PKG_VERSION_PATCH")
    );
}
