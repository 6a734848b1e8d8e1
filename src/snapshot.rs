//! An immutable, sorted, de-duplicated view of a set, shared by reference count.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::id::{Id, Item};

/// A sealed set: items sorted by (timestamp, id), no duplicates. Cloning shares the items, so any
/// number of sessions read one snapshot without copying it, and later changes to the
/// [`ItemSet`](crate::ItemSet) it came from never reach it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    items: Arc<Vec<Item>>,
}

impl Snapshot {
    /// Seals `items` (any order, duplicates allowed) into a snapshot.
    pub fn from_items(mut items: Vec<Item>) -> Self {
        items.sort_unstable();
        items.dedup();
        Self::from_sorted_unique(items)
    }

    /// `items` must already be strictly increasing: the set's merge produces them so.
    pub(crate) fn from_sorted_unique(items: Vec<Item>) -> Self {
        debug_assert!(items.windows(2).all(|pair| pair[0] < pair[1]));
        Self {
            items: Arc::new(items),
        }
    }

    /// The items, in protocol order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the snapshot holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when the snapshot holds exactly this item.
    pub fn contains(&self, timestamp: u64, id: &Id) -> bool {
        let probe = Item { timestamp, id: *id };
        self.items.binary_search(&probe).is_ok()
    }

    /// True when both snapshots share the same items in memory (no copy was made).
    pub fn shares_items_with(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.items, &other.items)
    }
}
