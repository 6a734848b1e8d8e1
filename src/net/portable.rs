//! Names a directory store accepts: keys that are safe, and that name one file, on Linux, macOS
//! and Windows alike.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use unicode_normalization::UnicodeNormalization;

use super::dir::TEMP_PREFIX;

/// The longest key (relative path) accepted, in bytes.
const MAX_KEY_LEN: usize = 4096;

/// The longest part of a key (a file or directory name), in bytes.
const MAX_PART_LEN: usize = 255;

/// Windows' reserved device names: a file named so (with any extension) is a device there.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The parts of a relative, `/`-separated key, or why it is refused.
pub(super) fn key_parts(key: &[u8]) -> Result<Vec<&str>> {
    let text = std::str::from_utf8(key).context("refused path: not UTF-8")?;
    if text.is_empty() || key.len() > MAX_KEY_LEN {
        bail!("refused path \"{text}\": empty or longer than {MAX_KEY_LEN} bytes");
    }
    let parts: Vec<&str> = text.split('/').collect();
    for part in &parts {
        if part.is_empty() {
            bail!("refused path \"{text}\": absolute, or an empty part");
        }
        if *part == "." || *part == ".." {
            bail!("refused path \"{text}\": it may not contain . or ..");
        }
        if part.contains(['\\', '\0']) || part.starts_with(TEMP_PREFIX) {
            bail!(
                "refused path \"{text}\": a part holds \\ or NUL, or is a negsync temporary name"
            );
        }
        if part.len() > MAX_PART_LEN {
            bail!("refused path \"{text}\": a part is longer than {MAX_PART_LEN} bytes");
        }
        if let Some(c) = part
            .chars()
            .find(|c| c.is_control() || matches!(c, ':' | '<' | '>' | '"' | '|' | '?' | '*'))
        {
            bail!(
                "refused path \"{text}\": '{c}' is not allowed in a file name on Windows (drive \
                 letters, streams, control characters)"
            );
        }
        if part.ends_with(['.', ' ']) {
            bail!("refused path \"{text}\": a name ending in a dot or a space is not portable");
        }
        let stem = part.split('.').next().unwrap_or(part).trim_end();
        if RESERVED.iter().any(|name| name.eq_ignore_ascii_case(stem)) {
            bail!("refused path \"{text}\": \"{stem}\" is a reserved device name on Windows");
        }
    }
    Ok(parts)
}

/// A name as the least discerning of the file systems compares it: in Unicode normal form C
/// (macOS stores a composed `é` and `e` + combining accent as one name), each character
/// upper-cased and then lower-cased (case-insensitive macOS and Windows; the round trip also
/// makes `ß` and `ss`, `ς` and `σ` one, as Unicode's full case folding does). Two names with the
/// same fold may be one file somewhere, so a store holds at most one of them.
pub(super) fn fold(name: &str) -> String {
    name.nfd()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .nfc()
        .collect()
}

/// Every key of a store and every directory on the keys' way, by [`fold`]: finds what a new key
/// would be one file (or directory) with on some file system.
///
/// A tree of names, one level a directory: each part of a key is folded and looked up once, in
/// its parent directory, so a key costs time and memory in proportion to its length. (Folding
/// every prefix of a key whole cost a peer's 4 KB key of 2,048 one-letter parts 80 ms and 4 MB.)
/// Folding a key part by part is folding it whole: `/` is unchanged by case mapping and is a
/// starter that nothing composes with, so normalisation never crosses it.
#[derive(Default)]
pub(super) struct FoldedNames {
    /// (directory, folded name) -> the name as first added, and the node it opens.
    children: HashMap<(usize, String), (String, usize)>,
}

/// The tree's root directory (node numbers count from it).
const ROOT: usize = 0;

impl FoldedNames {
    /// Adds `key` and its directories (the first name of a fold stays).
    pub(super) fn add(&mut self, key: &str) {
        let mut directory = ROOT;
        for part in key.split('/') {
            let next = self.children.len() + 1;
            let (_, node) = self
                .children
                .entry((directory, fold(part)))
                .or_insert_with(|| (part.to_string(), next));
            directory = *node;
        }
    }

    /// The part of `key` (itself or a directory on its way) that folds to the same name as a
    /// different name held here, with that name: both as paths from the top.
    pub(super) fn clash(&self, key: &str) -> Option<(String, String)> {
        let mut directory = ROOT;
        let mut parent_len = 0;
        for (start, part) in parts_with_offsets(key) {
            let (existing, node) = self.children.get(&(directory, fold(part)))?;
            if existing != part {
                // The directories above are spelled as in `key`: a difference there would have
                // been found first.
                let prefix = &key[..start + part.len()];
                return Some((
                    prefix.to_string(),
                    format!("{}{existing}", &key[..parent_len]),
                ));
            }
            directory = *node;
            parent_len = start + part.len() + 1;
        }
        None
    }
}

/// Each `/`-separated part of `key` with the offset where it starts.
fn parts_with_offsets(key: &str) -> impl Iterator<Item = (usize, &str)> {
    key.split('/').scan(0, |start, part| {
        let at = *start;
        *start += part.len() + 1;
        Some((at, part))
    })
}

/// Why `key` is refused next to `existing` (from [`FoldedNames::clash`]).
pub(super) fn clash_message(key: &str, part: &str, existing: &str) -> String {
    format!(
        "refused path \"{key}\": {}, which is here already (they would be one file on macOS or \
         Windows)",
        twins(part, existing)
    )
}

/// `"a" differs only in case or Unicode normalisation from "b"`, saying which name is not in
/// composed form: two such names look the same on a terminal.
pub(super) fn twins(name: &str, existing: &str) -> String {
    use unicode_normalization::is_nfc;
    let note = match (is_nfc(name), is_nfc(existing)) {
        (true, true) => "",
        (false, true) => ", the first not in composed form (NFC)",
        (true, false) => ", the second not in composed form (NFC)",
        (false, false) => ", neither in composed form (NFC)",
    };
    format!("\"{name}\" differs only in case or Unicode normalisation from \"{existing}\"{note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_leave_the_directory_or_are_not_portable_are_refused() {
        for bad in [
            &b""[..],
            b"/etc/passwd",
            b"../x",
            b"a/../../x",
            b"a/./b",
            b"a//b",
            b"a/",
            b"a\\..\\b",
            b"a\0b",
            b".negsync-1-2",
            b"\xff",
            b"C:/Windows/x",
            b"c:x",
            b"a/file.txt:stream",
            b"CON",
            b"dir/nul.txt",
            b"Com1",
            b"lpt9.log",
            b"trailing.",
            b"trailing ",
            b"dir./x",
            b"a\x1b[2J",
            b"a\nb",
            b"what?",
            b"a*b",
            b"a|b",
        ] {
            assert!(
                key_parts(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(key_parts(b"a/b.txt").unwrap(), ["a", "b.txt"]);
        assert_eq!(key_parts(b".hidden/..x").unwrap(), [".hidden", "..x"]);
        assert_eq!(
            key_parts(b"CONFIG/console.txt").unwrap(),
            ["CONFIG", "console.txt"]
        );
        assert_eq!(key_parts(b"com10.txt").unwrap(), ["com10.txt"]);
    }

    #[test]
    fn the_fold_joins_case_and_normalisation_twins_only() {
        let composed = "caf\u{e9}.txt";
        let decomposed = "cafe\u{301}.txt";
        assert_ne!(composed, decomposed);
        assert_eq!(fold(composed), fold(decomposed));
        assert_eq!(fold("CAF\u{c9}.TXT"), fold(decomposed));
        assert_eq!(fold("Stra\u{df}e"), fold("STRASSE"));
        assert_eq!(fold("\u{3a3}\u{3c2}"), fold("\u{3c3}\u{3c3}"));
        assert_ne!(fold("cafe.txt"), fold(composed));
        assert_ne!(fold("a.txt"), fold("b.txt"));
    }

    #[test]
    fn keys_that_differ_only_in_case_or_normalisation_clash() {
        let mut names = FoldedNames::default();
        names.add("Notes/Todo.txt");
        assert!(names.clash("Notes/Todo.txt").is_none());
        assert!(names.clash("Notes/other.txt").is_none());
        assert_eq!(
            names.clash("notes/x.txt"),
            Some(("notes".into(), "Notes".into()))
        );
        assert_eq!(
            names.clash("Notes/TODO.TXT"),
            Some(("Notes/TODO.TXT".into(), "Notes/Todo.txt".into()))
        );
        assert!(names.clash("\u{c4}rger").is_none());
        names.add("\u{c4}rger");
        assert!(names.clash("\u{e4}rger").is_some());
        assert!(names.clash("A\u{308}rger").is_some(), "decomposed");
        names.add("caf\u{e9}/menu.txt");
        assert_eq!(
            names.clash("cafe\u{301}/menu.txt"),
            Some(("cafe\u{301}".into(), "caf\u{e9}".into()))
        );
        assert_eq!(
            names.clash("caf\u{e9}/MENU.txt"),
            Some(("caf\u{e9}/MENU.txt".into(), "caf\u{e9}/menu.txt".into()))
        );
        assert!(names.clash("caf\u{e9}/menu.txt/deeper").is_none());
    }

    /// A key of 2,048 one-letter parts (the longest key is 4,096 bytes) is held as 2,048 short
    /// names, not 2,048 prefixes of up to 4 KB each; and its twin is still found at its end.
    #[test]
    fn a_deep_key_costs_in_proportion_to_its_length() {
        let deep = vec!["a"; 2048].join("/");
        let mut names = FoldedNames::default();
        names.add(&deep);
        assert_eq!(names.children.len(), 2048);
        let held: usize = names.children.keys().map(|(_, name)| name.len()).sum();
        assert_eq!(held, 2048);
        let twin = format!("{}A", &deep[..deep.len() - 1]);
        assert_eq!(names.clash(&twin), Some((twin.clone(), deep.clone())));
        assert!(names.clash(&deep).is_none());
    }
}
