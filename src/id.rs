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
        let head = |id: &Id| {
            u64::from_be_bytes(id.0[..8].try_into().unwrap_or_else(|_| panic!("8 bytes")))
        };
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
    #[cfg(feature = "std")]
    order.sort_unstable_by_key(|&position| id_at(position));
    #[cfg(not(feature = "std"))]
    heap_sort_slice(order, |&a, &b| id_at(a) < id_at(b));
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

/// Sorts items into protocol order (by timestamp, then ID). With std the standard unstable sort;
/// without (firmware) a heap sort: no scratch at all, where the standard sort's small-sort
/// scratch for 40-byte items takes 2 KB of stack, and a fraction of its code (measured on
/// Cortex-M3: the two standard sorts were 4.4 KB of `.text`). Firmware sorts a few hundred
/// items at a time, where O(n log n) without the standard sort's tricks costs little.
pub(crate) fn sort_items(items: &mut [Item]) {
    #[cfg(feature = "std")]
    items.sort_unstable();
    #[cfg(not(feature = "std"))]
    heap_sort_slice(items, |a, b| a < b);
}

/// Sorts IDs by their bytes: the standard unstable sort with std, the heap sort without (its
/// small-sort scratch for 32-byte IDs would be 1.6 KB of stack).
pub(crate) fn sort_ids(ids: &mut [Id]) {
    #[cfg(feature = "std")]
    ids.sort_unstable();
    #[cfg(not(feature = "std"))]
    heap_sort_slice(ids, |a, b| a < b);
}

/// An in-place heap sort of `len` elements through one callback: `at(i, j, false)` says whether
/// element `i` sorts before element `j`, `at(i, j, true)` swaps them. No allocation, no
/// recursion, constant stack, and one copy of the code for every element type.
#[cfg(not(feature = "std"))]
fn heap_sort(len: usize, at: &mut dyn FnMut(usize, usize, bool) -> bool) {
    let sift_down = |at: &mut dyn FnMut(usize, usize, bool) -> bool, mut node, end| {
        loop {
            let mut child = 2 * node + 1;
            if child >= end {
                break;
            }
            if child + 1 < end && at(child, child + 1, false) {
                child += 1;
            }
            if !at(node, child, false) {
                break;
            }
            at(node, child, true);
            node = child;
        }
    };
    for node in (0..len / 2).rev() {
        sift_down(at, node, len);
    }
    for end in (1..len).rev() {
        at(0, end, true);
        sift_down(at, 0, end);
    }
}

/// `heap_sort` over a slice, by `less`.
#[cfg(not(feature = "std"))]
fn heap_sort_slice<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    heap_sort(v.len(), &mut |i, j, swap| {
        if swap {
            v.swap(i, j);
            false
        } else {
            less(&v[i], &v[j])
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whichever sort the build uses (a heap sort without std), the order is the protocol's.
    #[test]
    fn items_and_positions_sort_like_the_standard_sort() {
        let mut next = crate::test_rng::xorshift64(0x2545_f491);
        for len in [0usize, 1, 2, 3, 7, 16, 33, 100, 257] {
            let items: Vec<Item> = (0..len)
                .map(|_| Item {
                    timestamp: next() % 5,
                    id: Id([(next() % 4) as u8; 32]),
                })
                .collect();
            let mut sorted = items.clone();
            sort_items(&mut sorted);
            let mut expected = items.clone();
            expected.sort();
            assert_eq!(sorted, expected, "{len} items");

            let mut order = Vec::new();
            order_by_id(&mut order, len, &|i| items[i].id);
            let ids: Vec<Id> = order.iter().map(|&i| items[i].id).collect();
            let mut expected_ids: Vec<Id> = items.iter().map(|item| item.id).collect();
            expected_ids.sort();
            assert_eq!(ids, expected_ids, "{len} positions");
        }
    }
}
