//! A directory as a document store: one file, one document.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::portable::{FoldedNames, clash_message, key_parts, twins};
use super::store::{Document, DocumentStore, Outgoing, PutOutcome, Receive, Receiving, content_id};
use crate::id::{Id, Item, id_for_version};
use crate::set::ItemSet;

/// Names that start with this are negsync's own temporary files: never documents.
pub(super) const TEMP_PREFIX: &str = ".negsync-";

/// A temporary file of another process, or a leftover, is removed when it is older than this
/// (where this system cannot tell whether its process still runs).
#[cfg(not(target_os = "linux"))]
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A directory whose regular files are the documents.
///
/// A file's key is its path relative to the directory, `/`-separated (UTF-8 only; symbolic links
/// and other special files are skipped); its ID is [`content_id`]`(key, contents)`; its timestamp
/// is its modification time in whole seconds. A received file is written to a temporary file
/// beside its place, given the sender's timestamp as its modification time, and renamed into
/// place, so both sides then hold the same item. Keys that would leave the directory (`..`, an
/// absolute path, a path through a symbolic link) are refused.
///
/// Keys must be portable to Linux, macOS and Windows: no `:` (drive letters, streams), no
/// `<>"|?*`, no control characters, no part ending in a dot or a space, no reserved device name
/// (`CON`, `NUL`, `COM1`, ...), parts of at most 255 bytes. Two keys that differ only in case or
/// Unicode normalisation (`Notes.txt` and `notes.txt`, a composed `é` and `e` + accent, also
/// for the directories on the way) would be one file on macOS or Windows: a received key that
/// equals a different key here so is refused, and of two such files here the scan takes the
/// first in byte order and leaves the other out ([`skipped`](Self::skipped) says so).
///
/// When both sides changed the same file, the version with the later timestamp wins on both
/// (ties go to the larger ID): a received older version is [`Kept`](PutOutcome::Kept) out.
/// Deletions do not travel: a sync makes the union.
///
/// Received files are written to `.negsync-PID-N` beside their place, flushed to disk
/// (`fsync`), renamed, and then the directory is flushed too, file by file: a crash or a power
/// cut leaves the old file or the new one, and every file reported stored is on disk. Leftover
/// temporary files (of a killed process) are removed by the next scan.
/// [`refresh`](DocumentStore::refresh) rescans at most once per
/// [`rescan_interval`](Self::set_rescan_interval), however many sessions ask, and reads only
/// the files whose size or modification time changed ([`counters`](Self::counters)).
pub struct DirStore {
    root: PathBuf,
    state: Mutex<DirState>,
    /// Held while scanning; the time of the last scan.
    scanned: Mutex<Option<Instant>>,
    rescan_interval: Mutex<Duration>,
    /// Temporary files this store is writing now.
    writing: Mutex<HashSet<PathBuf>>,
    counters: Counters,
}

/// What a [`DirStore`] has done since it was opened: shows that sessions do not cost a walk of
/// the directory each, nor a read of every file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirCounters {
    /// Walks of the whole directory (scans).
    pub walks: u64,
    /// Files read to hash their contents: new, or changed in size or modification time since
    /// the walk before.
    pub files_hashed: u64,
    /// Received files renamed into place.
    pub renames: u64,
    /// Directories flushed to disk (`fsync`): one after each rename, and the parent of each
    /// directory made for a received file.
    pub dir_flushes: u64,
}

#[derive(Default)]
struct Counters {
    walks: AtomicU64,
    files_hashed: AtomicU64,
    renames: AtomicU64,
    dir_flushes: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct DirState {
    files: HashMap<String, Entry>,
    keys: HashMap<Id, String>,
    /// Every key and directory here, by its portable fold.
    names: FoldedNames,
    /// Files the last scan left out, each with why.
    skipped: Vec<String>,
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
            scanned: Mutex::new(None),
            rescan_interval: Mutex::new(Duration::from_secs(1)),
            writing: Mutex::new(HashSet::new()),
            counters: Counters::default(),
        })
    }

    /// What this store has done since it was opened.
    pub fn counters(&self) -> DirCounters {
        let c = &self.counters;
        DirCounters {
            walks: c.walks.load(Ordering::Relaxed),
            files_hashed: c.files_hashed.load(Ordering::Relaxed),
            renames: c.renames.load(Ordering::Relaxed),
            dir_flushes: c.dir_flushes.load(Ordering::Relaxed),
        }
    }

    /// The files the last scan left out, each with why (as text that may hold any character
    /// of a file name: escape it for a terminal): names that are not portable, and names that
    /// are one file with another's on macOS or Windows.
    pub fn skipped(&self) -> Vec<String> {
        self.lock().skipped.clone()
    }

    /// How old the last scan may be before [`refresh`](DocumentStore::refresh) scans again.
    /// Default 1 s; zero scans for every session.
    pub fn set_rescan_interval(&self, interval: Duration) {
        *self
            .rescan_interval
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = interval;
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
    /// Leftover temporary files (of a process that no longer runs, or of this store but not
    /// being written) are removed.
    pub fn scan(&self, set: &ItemSet) -> Result<usize> {
        let mut scanned = self.scanned.lock().unwrap_or_else(|e| e.into_inner());
        let count = self.scan_now(set)?;
        *scanned = Some(Instant::now());
        Ok(count)
    }

    fn scan_now(&self, set: &ItemSet) -> Result<usize> {
        let mut found = Walk::default();
        walk(&self.root, String::new(), &mut found)?;
        Counters::bump(&self.counters.walks);
        self.remove_stale(found.temps);
        // Byte order, so that of two names that are one file elsewhere, the same one is taken
        // on every scan.
        found.files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut state = self.lock();
        let mut next = DirState {
            skipped: found.skipped,
            ..DirState::default()
        };
        for (key, path, meta) in found.files {
            if let Some((part, existing)) = next.names.clash(&key) {
                next.skipped.push(format!(
                    "left out \"{key}\": {} (they would be one file on macOS or Windows): rename \
                     one",
                    twins(&part, &existing)
                ));
                continue;
            }
            let len = meta.len();
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            let entry = match state.files.get(&key) {
                Some(old) if old.len == len && old.modified == modified => *old,
                _ => {
                    Counters::bump(&self.counters.files_hashed);
                    let digest = match hash_file(&path) {
                        Ok(digest) => digest,
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
                            id: id_for_version(key.as_bytes(), &digest),
                        },
                        len,
                        modified,
                    }
                }
            };
            next.keys.insert(entry.item.id, key.clone());
            next.names.add(&key);
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

    /// Removes the temporary files in `temps` that no running write owns.
    fn remove_stale(&self, temps: Vec<(PathBuf, fs::Metadata)>) {
        let writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let ours = std::process::id();
        for (path, meta) in temps {
            if writing.contains(&path) {
                continue;
            }
            let pid = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_prefix(TEMP_PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            let stale = match pid {
                Some(pid) if pid == ours => true,
                Some(pid) => !process_runs(pid, &meta),
                None => true,
            };
            if stale {
                let _ = fs::remove_file(&path);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, DirState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Flushes `dir`'s entries to disk (after a rename or a directory made in it).
    fn flush_dir(&self, dir: &Path) -> Result<()> {
        sync_dir(dir).with_context(|| format!("flushing {}", dir.display()))?;
        Counters::bump(&self.counters.dir_flushes);
        Ok(())
    }

    /// Checks `key` for a document with this `id` and `timestamp` against what is here, makes
    /// the directories on its way, and opens a temporary file beside its place. `None`: this
    /// version or a newer one is here already.
    fn prepare(&self, id: &Id, key: &[u8], timestamp: u64) -> Result<Option<DirIncoming<'_>>> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let parts = key_parts(key)?;
        let key = parts.join("/");
        let modified = UNIX_EPOCH
            .checked_add(Duration::from_secs(timestamp))
            .context("timestamp out of range for a file")?;
        if self.lock().holds_newer(&key, id, timestamp)? {
            return Ok(None);
        }
        let (file_name, dirs) = parts.split_last().context("a key has a part")?;
        let mut dir = self.root.clone();
        for part in dirs {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => bail!("{key}: {} is in the way (not a directory)", dir.display()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    // The new directory's entry must be on disk before a file in it can be.
                    self.flush_dir(dir.parent().context("a made directory has a parent")?)?;
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
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        self.writing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(temp.clone());
        let file = match File::create_new(&temp) {
            Ok(file) => file,
            Err(error) => {
                self.writing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&temp);
                return Err(error).with_context(|| format!("writing {}", path.display()));
            }
        };
        Ok(Some(DirIncoming {
            store: self,
            id: *id,
            key,
            timestamp,
            modified,
            path,
            temp,
            file: Some(file),
        }))
    }
}

impl DirState {
    /// Whether a document with this key, ID and timestamp is not to be written because this
    /// version or a newer one is here already; an error for a case twin of a key or directory
    /// here.
    fn holds_newer(&self, key: &str, id: &Id, timestamp: u64) -> Result<bool> {
        if let Some((part, existing)) = self.names.clash(key) {
            bail!(clash_message(key, &part, &existing));
        }
        Ok(self
            .files
            .get(key)
            .is_some_and(|old| (old.item.timestamp, old.item.id) >= (timestamp, *id)))
    }
}

/// A received document being written to its temporary file; removed unless committed.
struct DirIncoming<'a> {
    store: &'a DirStore,
    id: Id,
    key: String,
    timestamp: u64,
    modified: SystemTime,
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl DirIncoming<'_> {
    fn commit_now(&mut self) -> Result<PutOutcome> {
        let mut file = self.file.take().context("committed twice")?;
        (|| {
            file.flush()?;
            file.set_modified(self.modified)?;
            file.sync_all()
        })()
        .with_context(|| format!("writing {}", self.path.display()))?;
        drop(file);
        let mut state = self.store.lock();
        // Another session may have stored this key meanwhile.
        if state.holds_newer(&self.key, &self.id, self.timestamp)? {
            return Ok(PutOutcome::Kept);
        }
        let parent = self.path.parent().context("a document path has a parent")?;
        fs::rename(&self.temp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Counters::bump(&self.store.counters.renames);
        let meta =
            fs::metadata(&self.path).with_context(|| format!("reading {}", self.path.display()))?;
        let entry = Entry {
            item: Item {
                timestamp: self.timestamp,
                id: self.id,
            },
            len: meta.len(),
            modified: meta.modified().unwrap_or(self.modified),
        };
        let old = state.files.get(&self.key).copied();
        if let Some(old) = old {
            state.keys.remove(&old.item.id);
        }
        state.keys.insert(self.id, self.key.clone());
        state.names.add(&self.key);
        state.files.insert(self.key.clone(), entry);
        drop(state);
        // The rename is on disk only once its directory is: flushed now, for each file, so that
        // a crash between two renames loses neither (no other session waits for this flush).
        self.store.flush_dir(parent)?;
        Ok(PutOutcome::Stored {
            replaced: old.map(|old| old.item),
        })
    }
}

impl Receiving for DirIncoming<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().context("written after the commit")?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn commit(mut self: Box<Self>) -> Result<PutOutcome> {
        self.commit_now()
    }
}

impl Drop for DirIncoming<'_> {
    fn drop(&mut self) {
        // Not renamed into place (refused, failed, or kept): the temporary file goes.
        drop(self.file.take());
        let _ = fs::remove_file(&self.temp);
        self.store
            .writing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.temp);
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

    /// The file, read as it goes out (never whole in memory). A file whose size changed since
    /// the scan is no longer this version; one whose bytes changed at the same size is sent,
    /// and refused by the receiver (they no longer match the ID).
    fn open(&self, id: &Id) -> Result<Option<Outgoing>> {
        let (key, entry) = {
            let state = self.lock();
            let Some(key) = state.keys.get(id) else {
                return Ok(None);
            };
            (key.clone(), state.files[key])
        };
        let path = self.root.join(&key);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let meta = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?;
        if meta.len() != entry.len || meta.modified().ok() != Some(entry.modified) {
            return Ok(None);
        }
        Ok(Some(Outgoing {
            key: key.into_bytes(),
            timestamp: entry.item.timestamp,
            size: entry.len,
            bytes: Box::new(io::Read::take(file, entry.len)),
        }))
    }

    fn put(&self, id: &Id, document: Document) -> Result<PutOutcome> {
        match self.prepare(id, &document.key, document.timestamp)? {
            None => Ok(PutOutcome::Kept),
            Some(mut incoming) => {
                incoming.write(&document.contents)?;
                incoming.commit_now()
            }
        }
    }

    /// Writes the bytes to a temporary file as they arrive; the commit flushes it to disk and
    /// renames it into place. IDs here are content IDs, so the transport may check them as
    /// the bytes go by.
    fn begin<'a>(&'a self, id: &Id, key: &[u8], timestamp: u64, _size: u64) -> Result<Receive<'a>> {
        Ok(match self.prepare(id, key, timestamp)? {
            None => Receive::Kept,
            Some(incoming) => Receive::Stream(Box::new(incoming)),
        })
    }

    fn refresh(&self, set: &ItemSet) -> Result<()> {
        let interval = *self
            .rescan_interval
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Sessions that ask while another scans wait for it, and then find it fresh.
        let mut scanned = self.scanned.lock().unwrap_or_else(|e| e.into_inner());
        if scanned.is_some_and(|at| at.elapsed() < interval) {
            return Ok(());
        }
        self.scan_now(set)?;
        *scanned = Some(Instant::now());
        Ok(())
    }
}

/// What a walk of the directory found.
#[derive(Default)]
struct Walk {
    /// The regular files: key, path, metadata.
    files: Vec<(String, PathBuf, fs::Metadata)>,
    /// negsync's temporary files.
    temps: Vec<(PathBuf, fs::Metadata)>,
    /// Names that cannot be documents, each with why.
    skipped: Vec<String>,
}

/// Collects what is under `dir` into `found`. `prefix` is `dir`'s key.
fn walk(dir: &Path, prefix: String, found: &mut Walk) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = match entry.file_name().into_string() {
            Ok(name) => name,
            Err(name) => {
                let path = entry.path().with_file_name(name);
                found
                    .skipped
                    .push(format!("left out \"{}\": not UTF-8", path.display()));
                continue;
            }
        };
        if name.starts_with(TEMP_PREFIX) {
            if let Ok(meta) = entry.metadata() {
                if meta.is_file() {
                    found.temps.push((entry.path(), meta));
                }
            }
            continue;
        }
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if let Err(error) = key_parts(key.as_bytes()) {
            found.skipped.push(format!("left out: {error:#}"));
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
            found.files.push((key, path, meta));
        }
    }
    Ok(())
}

/// SHA-256 of a file's bytes, read in chunks (never whole in memory).
fn hash_file(path: &Path) -> io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        match io::Read::read(&mut file, &mut buffer) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => hasher.update(&buffer[..n]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Flushes a directory's entries to disk (after a rename into it).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows has no directory handles to flush; its renames are journaled by NTFS.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Whether process `pid` (which wrote a temporary file with metadata `meta`) still runs.
#[cfg(target_os = "linux")]
fn process_runs(pid: u32, _meta: &fs::Metadata) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Elsewhere, a temporary file unchanged for an hour counts as left over.
#[cfg(not(target_os = "linux"))]
fn process_runs(_pid: u32, meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_none_or(|age| age < STALE_AFTER)
}

/// Whole seconds since the epoch (0 before it).
fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs().min(Item::MAX_TIMESTAMP))
}
