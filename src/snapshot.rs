//! An immutable, sorted, de-duplicated view of a set, shared by reference count, with the running
//! index that makes ranges cheap to find and fingerprint.

use crate::lock::Arc;
use alloc::vec::Vec;

use crate::engine::range_index::RangeIndex;
use crate::id::{Id, Item};

/// A sealed set: items sorted by (timestamp, id), no duplicates. Cloning shares the items, so any
/// number of sessions read one snapshot without copying it, and later changes to the
/// [`ItemSet`](crate::ItemSet) it came from never reach it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    sealed: Arc<Sealed>,
}

#[derive(Debug, Default)]
struct Sealed {
    items: Vec<Item>,
    /// Built once at sealing and shared by every session over this snapshot.
    index: RangeIndex,
}

impl Snapshot {
    /// Seals `items` (any order, duplicates allowed) into a snapshot.
    pub fn from_items(mut items: Vec<Item>) -> Self {
        crate::id::sort_items(&mut items);
        items.dedup();
        Self::from_sorted_unique(items)
    }

    /// `items` must already be strictly increasing: the set's merge produces them so.
    pub(crate) fn from_sorted_unique(items: Vec<Item>) -> Self {
        let index = RangeIndex::build(&items);
        Self::from_sorted_unique_indexed(items, index)
    }

    /// As [`from_sorted_unique`](Self::from_sorted_unique), with the index already made of
    /// exactly these items.
    pub(crate) fn from_sorted_unique_indexed(items: Vec<Item>, index: RangeIndex) -> Self {
        debug_assert!(items.windows(2).all(|pair| pair[0] < pair[1]));
        debug_assert!(index.describes(&items));
        Self {
            sealed: Arc::new(Sealed { items, index }),
        }
    }

    /// The items, in protocol order.
    pub fn items(&self) -> &[Item] {
        &self.sealed.items
    }

    pub(crate) fn range_index(&self) -> &RangeIndex {
        &self.sealed.index
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.sealed.items.len()
    }

    /// True when the snapshot holds no items.
    pub fn is_empty(&self) -> bool {
        self.sealed.items.is_empty()
    }

    /// True when the snapshot holds exactly this item.
    pub fn contains(&self, timestamp: u64, id: &Id) -> bool {
        let probe = Item { timestamp, id: *id };
        self.sealed.items.binary_search(&probe).is_ok()
    }

    /// The items whose timestamps fall in `[from, to)`, as positions `begin..end` in
    /// [`items`](Self::items): two binary searches, nothing copied.
    pub fn window(&self, from: u64, to: u64) -> core::ops::Range<usize> {
        let items = self.items();
        let begin = items.partition_point(|item| item.timestamp < from);
        let end = items.partition_point(|item| item.timestamp < to).max(begin);
        begin..end
    }

    /// Heap bytes this snapshot holds: its items and its fingerprint index.
    pub fn heap_bytes(&self) -> usize {
        self.sealed.items.capacity() * core::mem::size_of::<Item>() + self.sealed.index.heap_bytes()
    }

    /// True when both snapshots share the same items in memory (no copy was made).
    pub fn shares_items_with(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.sealed, &other.sealed)
    }
}
