//! Document IDs, reconciliation items, and how a document's ID is derived.

use core::fmt;

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Bytes in an [`Id`].
pub const ID_SIZE: usize = 32;

/// A 32-byte document ID: the unit that reconciliation finds missing on either side.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Id(pub [u8; ID_SIZE]);

/// Byte order, as the protocol sorts IDs. The first eight bytes decide almost every comparison of
/// distinct IDs, so they are compared as one big-endian integer before the rest: sorting,
/// searching and matching ID lists is where reconciliation compares IDs most.
impl Ord for Id {
    #[inline]
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let head = |id: &Id| u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"));
        head(self)
            .cmp(&head(other))
            .then_with(|| self.0[8..].cmp(&other.0[8..]))
    }
}

impl PartialOrd for Id {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Id {
    /// The ID held in `bytes`, which must be exactly [`ID_SIZE`] long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let array: [u8; ID_SIZE] = bytes
            .try_into()
            .map_err(|_| Error::InvalidArgument("an ID must be exactly 32 bytes"))?;
        Ok(Self(array))
    }

    /// The ID's bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_SIZE] {
        &self.0
    }
}

impl From<[u8; ID_SIZE]> for Id {
    fn from(bytes: [u8; ID_SIZE]) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Id {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

/// One element of a reconciled set. Items order by timestamp, then by ID bytes: the protocol's order.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Item {
    /// The document's own time (creation or last change, seconds), never the time of a sync:
    /// both peers must give the same document the same timestamp.
    pub timestamp: u64,
    /// The document's ID.
    pub id: Id,
}

impl Item {
    /// Timestamp `u64::MAX` is the protocol's "infinity" bound, so no item may carry it.
    pub const MAX_TIMESTAMP: u64 = u64::MAX - 1;

    /// An item, or `InvalidArgument` when `timestamp` is the reserved `u64::MAX`.
    pub fn new(timestamp: u64, id: Id) -> Result<Self, Error> {
        if timestamp > Self::MAX_TIMESTAMP {
            return Err(Error::InvalidArgument(
                "timestamp u64::MAX is reserved by the protocol as infinity",
            ));
        }
        Ok(Self { timestamp, id })
    }
}

/// Fills `order` with `0..count`, ordered by `id_at` of each. Sorting positions rather than the
/// 32-byte IDs keeps the standard sort's small-slice scratch off the stack (1.6 KB for IDs, too
/// much on a microcontroller), and the one `dyn` callback keeps one copy of the sort in flash.
pub(crate) fn order_by_id(order: &mut Vec<usize>, count: usize, id_at: &dyn Fn(usize) -> Id) {
    order.clear();
    order.extend(0..count);
    order.sort_unstable_by_key(|&position| id_at(position));
}

/// The ID of a document known only by its key: `SHA-256(key)`.
pub fn id_for_key(key: &[u8]) -> Id {
    Id(Sha256::digest(key).into())
}

/// The ID of one version of a document: `SHA-256(u64_le(len(key)) || key || version)`.
///
/// `version` is a content hash or the CRDT heads. A changed document gets a new ID, so a peer
/// holding the old version sees it as missing; the length prefix keeps `("ab", "c")` and
/// `("a", "bc")` apart.
pub fn id_for_version(key: &[u8], version: &[u8]) -> Id {
    let mut hasher = Sha256::new();
    hasher.update((key.len() as u64).to_le_bytes());
    hasher.update(key);
    hasher.update(version);
    Id(hasher.finalize().into())
}
