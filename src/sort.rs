//! Sorting items into protocol order when a set is sealed.

use crate::id::Item;

/// Sorts `items` by (timestamp, id).
pub(crate) fn sort_items(items: &mut [Item]) {
    items.sort_unstable();
}
