//! A directory as a document store: one file, one document.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::store::{Document, DocumentStore, PutOutcome, content_id};
use crate::id::{Id, Item};
use crate::set::ItemSet;

/// Names that start with this are negsync's own temporary files: never documents.
const TEMP_PREFIX: &str = ".negsync-";

/// The longest key (relative path) accepted, in bytes.
const MAX_KEY_LEN: usize = 4096;

/// A directory whose regular files are the documents.
///
/// A file's key is its path relative to the directory, `/`-separated (UTF-8 only; symbolic links
/// and other special files are skipped); its ID is [`content_id`]`(key, contents)`; its timestamp
/// is its modification time in whole seconds. A received file is written to a temporary file
/// beside its place, given the sender's timestamp as its modification time, and renamed into
/// place, so both sides then hold the same item. Keys that would leave the directory (`..`, an
/// absolute path, a path through a symbolic link) are refused.
///
/// When both sides changed the same file, the version with the later timestamp wins on both
/// (ties go to the larger ID): a received older version is [`Kept`](PutOutcome::Kept) out.
/// Deletions do not travel: a sync makes the union.
pub struct DirStore {
    root: PathBuf,
    state: Mutex<DirState>,
}

#[derive(Default)]
struct DirState {
    files: HashMap<String, Entry>,
    keys: HashMap<Id, String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    item: Item,
    len: u64,
    modified: SystemTime,
}

impl DirStore {
    /// A store over the existing directory `root`. Call [`scan`](Self::scan) to read it.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let meta = fs::metadata(root).with_context(|| format!("opening {}", root.display()))?;
        if !meta.is_dir() {
            bail!("{} is not a directory", root.display());
        }
        Ok(Self {
            root: root.to_path_buf(),
            state: Mutex::new(DirState::default()),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Number of documents found by the last scan or stored since.
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    /// True when the store holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the directory again and brings `set` in line with it: new and changed files are
    /// hashed and inserted, removed ones dropped. Files whose size and modification time did not
    /// change since the last scan are not read again. Returns the number of documents.
    pub fn scan(&self, set: &ItemSet) -> Result<usize> {
        let mut found = Vec::new();
        walk(&self.root, String::new(), &mut found)?;
        let mut state = self.lock();
        let mut next = DirState::default();
        for (key, path, meta) in found {
            let len = meta.len();
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            let entry = match state.files.get(&key) {
                Some(old) if old.len == len && old.modified == modified => *old,
                _ => {
                    let contents = match fs::read(&path) {
                        Ok(contents) => contents,
                        // Gone since the walk: not a document any more.
                        Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                        Err(error) => {
                            return Err(error)
                                .with_context(|| format!("reading {}", path.display()));
                        }
                    };
                    Entry {
                        item: Item {
                            timestamp: seconds(modified),
                            id: content_id(key.as_bytes(), &contents),
                        },
                        len,
                        modified,
                    }
                }
            };
            next.keys.insert(entry.item.id, key.clone());
            next.files.insert(key, entry);
        }
        for (key, old) in &state.files {
            if next.files.get(key).map(|new| new.item) != Some(old.item) {
                set.remove(old.item.timestamp, old.item.id);
            }
        }
        let added: Vec<Item> = next
            .files
            .iter()
            .filter(|(key, new)| state.files.get(*key).map(|old| old.item) != Some(new.item))
            .map(|(_, new)| new.item)
            .collect();
        set.extend(added)?;
        let count = next.files.len();
        *state = next;
        Ok(count)
    }

    fn lock(&self) -> MutexGuard<'_, DirState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `document` to `path` atomically, with its timestamp as modification time.
    fn write(&self, path: &Path, document: &Document) -> Result<Entry> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let modified = UNIX_EPOCH
            .checked_add(Duration::from_secs(document.timestamp))
            .context("timestamp out of range for a file")?;
        let parent = path.parent().context("a document path has a parent")?;
        let temp = parent.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = File::create_new(&temp)?;
            file.write_all(&document.contents)?;
            file.set_modified(modified)?;
            drop(file);
            fs::rename(&temp, path)
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(error).with_context(|| format!("writing {}", path.display()));
        }
        let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Entry {
            item: Item {
                timestamp: document.timestamp,
                id: Id::default(),
            },
            len: meta.len(),
            modified: meta.modified().unwrap_or(modified),
        })
    }
}

impl DocumentStore for DirStore {
    fn get(&self, id: &Id) -> Result<Option<Document>> {
        let (key, timestamp) = {
            let state = self.lock();
            let Some(key) = state.keys.get(id) else {
                return Ok(None);
            };
            (key.clone(), state.files[key].item.timestamp)
        };
        let path = self.root.join(&key);
        let contents = match fs::read(&path) {
            Ok(contents) => contents,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        // Changed since the scan: this version is gone.
        if content_id(key.as_bytes(), &contents) != *id {
            return Ok(None);
        }
        Ok(Some(Document {
            key: key.into_bytes(),
            timestamp,
            contents,
        }))
    }

    fn put(&self, id: &Id, document: Document) -> Result<PutOutcome> {
        let parts = key_parts(&document.key)?;
        let key = parts.join("/");
        let mut state = self.lock();
        let old = state.files.get(&key).copied();
        if let Some(old) = old {
            if (old.item.timestamp, old.item.id) >= (document.timestamp, *id) {
                return Ok(PutOutcome::Kept);
            }
        }
        let (file_name, dirs) = parts.split_last().context("a key has a part")?;
        let mut dir = self.root.clone();
        for part in dirs {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => bail!("{key}: {} is in the way (not a directory)", dir.display()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("reading {}", dir.display()));
                }
            }
        }
        let path = dir.join(file_name);
        if fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir()) {
            bail!("{key}: a directory is in the way");
        }
        let mut entry = self.write(&path, &document)?;
        entry.item.id = *id;
        if let Some(old) = old {
            state.keys.remove(&old.item.id);
        }
        state.keys.insert(*id, key.clone());
        state.files.insert(key, entry);
        Ok(PutOutcome::Stored {
            replaced: old.map(|old| old.item),
        })
    }

    fn refresh(&self, set: &ItemSet) -> Result<()> {
        self.scan(set).map(drop)
    }
}

/// The parts of a relative, `/`-separated key, or why it is refused.
fn key_parts(key: &[u8]) -> Result<Vec<&str>> {
    let text = std::str::from_utf8(key).context("refused path: not UTF-8")?;
    if text.is_empty() || key.len() > MAX_KEY_LEN {
        bail!("refused path {text:?}: empty or longer than {MAX_KEY_LEN} bytes");
    }
    let parts: Vec<&str> = text.split('/').collect();
    for part in &parts {
        if part.is_empty() {
            bail!("refused path {text:?}: absolute, or an empty part");
        }
        if *part == "." || *part == ".." {
            bail!("refused path {text:?}: it may not contain . or ..");
        }
        if part.contains(['\\', '\0']) || part.starts_with(TEMP_PREFIX) {
            bail!("refused path {text:?}: a part holds \\ or NUL, or is a negsync temporary name");
        }
    }
    Ok(parts)
}

/// Collects the regular files under `dir` as (key, path, metadata). `prefix` is `dir`'s key.
fn walk(
    dir: &Path,
    prefix: String,
    found: &mut Vec<(String, PathBuf, fs::Metadata)>,
) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if key_parts(key.as_bytes()).is_err() {
            continue;
        }
        let path = entry.path();
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        if meta.is_dir() {
            walk(&path, key, found)?;
        } else if meta.is_file() {
            found.push((key, path, meta));
        }
    }
    Ok(())
}

/// Whole seconds since the epoch (0 before it).
fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs().min(Item::MAX_TIMESTAMP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_leave_the_directory_are_refused() {
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
        ] {
            assert!(
                key_parts(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(key_parts(b"a/b.txt").unwrap(), ["a", "b.txt"]);
        assert_eq!(key_parts(b".hidden/..x").unwrap(), [".hidden", "..x"]);
    }
}
