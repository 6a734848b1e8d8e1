//! Where document bytes come from and go to: a trait the application implements.

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
/// The transport calls it from async tasks: each call should be quick (a file read or write is
/// fine). A store is shared by every session of a [`serve`](super::serve), so it synchronizes
/// itself.
pub trait DocumentStore: Send + Sync {
    /// The document with this ID, or `None` when the store no longer holds that version.
    fn get(&self, id: &Id) -> Result<Option<Document>>;

    /// Stores a received document whose ID the transport has already checked against
    /// [`id_of`](Self::id_of). An error refuses this one document; the sync goes on.
    fn put(&self, id: &Id, document: Document) -> Result<PutOutcome>;

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
