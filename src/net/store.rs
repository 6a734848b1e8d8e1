//! Where document bytes come from and go to: a trait the application implements.

use std::io::{Cursor, Read};

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::id::{Id, Item, id_for_version};
use crate::set::ItemSet;

/// One document as it travels: its key, its own timestamp, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The document's key (for [`DirStore`](super::DirStore): its path relative to the
    /// directory, `/`-separated).
    pub key: Vec<u8>,
    /// The document's own time in seconds (the timestamp of its item).
    pub timestamp: u64,
    /// The document's bytes.
    pub contents: Vec<u8>,
}

/// The ID of a document whose version is its content hash:
/// `id_for_version(key, SHA-256(contents))`.
pub fn content_id(key: &[u8], contents: &[u8]) -> Id {
    id_for_version(key, &Sha256::digest(contents))
}

/// A document opened to be sent: what its `Doc` frame announces, and its bytes, read in chunks.
pub struct Outgoing {
    /// The document's key.
    pub key: Vec<u8>,
    /// Its timestamp.
    pub timestamp: u64,
    /// How many bytes `bytes` gives. Should it give fewer (the file shrank meanwhile), the
    /// transport sends zeros for the rest, and the receiver refuses the document, whose bytes
    /// no longer match its ID.
    pub size: u64,
    /// The bytes.
    pub bytes: Box<dyn Read + Send>,
}

impl Outgoing {
    /// A document held in memory.
    pub fn from_document(document: Document) -> Self {
        Self {
            key: document.key,
            timestamp: document.timestamp,
            size: document.contents.len() as u64,
            bytes: Box::new(Cursor::new(document.contents)),
        }
    }
}

/// How a store takes a received document: see [`DocumentStore::begin`].
pub enum Receive<'a> {
    /// Hand the whole document to [`put`](DocumentStore::put) (held in memory, checked with
    /// [`id_of`](DocumentStore::id_of) first).
    Whole,
    /// The store holds this version, or a newer one of its key, already: the bytes are read
    /// past and the document counts as kept.
    Kept,
    /// Write the bytes as they arrive. The transport hashes them as they go and commits only
    /// when they match the content ID ([`content_id`]); otherwise it drops the writer.
    Stream(Box<dyn Receiving + Send + 'a>),
}

/// A received document being written as its bytes arrive. Dropping it without
/// [`commit`](Self::commit) must discard what was written.
pub trait Receiving {
    /// The next bytes of the document.
    fn write(&mut self, bytes: &[u8]) -> Result<()>;

    /// Makes the document part of the store: all its bytes were written, and they match its ID.
    fn commit(self: Box<Self>) -> Result<PutOutcome>;
}

/// What [`DocumentStore::put`] did with a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored. `replaced` is the item of the older version of the same key it overwrote, if any:
    /// the transport removes it from the set and inserts the new one.
    Stored {
        /// The item this document replaced.
        replaced: Option<Item>,
    },
    /// Not stored: the store holds this document already, or a newer version of its key (the
    /// transport leaves the set alone).
    Kept,
}

/// Document bytes for the transport: the application implements it over its own storage.
///
/// The transport calls it from async tasks, each call (and each read or write of an
/// [`Outgoing`] or [`Receiving`]) through `tokio::task::block_in_place` on a multi-threaded
/// runtime: the worker hands its other tasks on first, so a call may block on a disk without
/// stalling other sessions (on a current-thread runtime it runs in place). A store is shared by
/// every session of a [`serve`](super::serve), so it synchronizes itself.
pub trait DocumentStore: Send + Sync {
    /// The document with this ID, or `None` when the store no longer holds that version.
    fn get(&self, id: &Id) -> Result<Option<Document>>;

    /// The document with this ID opened for sending, or `None` when the store no longer holds
    /// that version. The transport reads it in chunks of at most a frame, and checks its size
    /// against the peer's limit before it reads any. By default [`get`](Self::get), held in
    /// memory; a store of large documents overrides it to read them as they go out.
    fn open(&self, id: &Id) -> Result<Option<Outgoing>> {
        Ok(self.get(id)?.map(Outgoing::from_document))
    }

    /// Stores a received document whose ID the transport has already checked against
    /// [`id_of`](Self::id_of). An error refuses this one document; the sync goes on.
    fn put(&self, id: &Id, document: Document) -> Result<PutOutcome>;

    /// Starts receiving a document whose `Doc` frame passed the transport's checks (size,
    /// count, quota, timestamp). By default [`Receive::Whole`]: the transport holds it in
    /// memory (at most [`Config::max_document_size`](super::Config::max_document_size)) and
    /// calls [`put`](Self::put). A store whose IDs are content IDs ([`content_id`]) may return
    /// [`Receive::Stream`] to write the bytes as they come, in chunks of at most a frame. An
    /// error refuses this one document; the sync goes on.
    fn begin<'a>(&'a self, id: &Id, key: &[u8], timestamp: u64, size: u64) -> Result<Receive<'a>> {
        let _ = (id, key, timestamp, size);
        Ok(Receive::Whole)
    }

    /// Makes what this session stored durable: called once a session has received its last
    /// document, before it reports success. Does nothing by default.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// The ID `document` must have. By default its content ID ([`content_id`]); a store whose
    /// versions are, say, CRDT heads overrides it.
    fn id_of(&self, document: &Document) -> Id {
        content_id(&document.key, &document.contents)
    }

    /// Called before each session takes its snapshot of `set`: a store whose documents change
    /// outside negsync brings the set up to date here. Does nothing by default.
    fn refresh(&self, set: &ItemSet) -> Result<()> {
        let _ = set;
        Ok(())
    }
}
