//! Sorting items into protocol order when a set is sealed: a radix sort on the timestamps, then
//! each run of equal timestamps by ID. About twice as fast as a comparison sort on a million
//! items (`make bench`, S4), because most timestamp bytes are the same in every item and their
//! passes are skipped.

use alloc::vec::Vec;
use core::mem;

use crate::id::Item;

/// Below this many items a comparison sort wins.
const RADIX_MIN_ITEMS: usize = 512;

/// Sorts `items` by (timestamp, id).
pub(crate) fn sort_items(items: &mut Vec<Item>) {
    if items.len() < RADIX_MIN_ITEMS {
        items.sort_unstable();
        return;
    }
    sort_by_timestamp(items);
    for run in items.chunk_by_mut(|a, b| a.timestamp == b.timestamp) {
        if run.len() > 1 {
            run.sort_unstable_by_key(|item| item.id);
        }
    }
}

/// A stable least-significant-byte-first radix sort on the timestamp alone.
fn sort_by_timestamp(items: &mut Vec<Item>) {
    let mut counts = [[0usize; 256]; 8];
    for item in items.iter() {
        for (byte, count) in counts.iter_mut().enumerate() {
            count[usize::from((item.timestamp >> (8 * byte)) as u8)] += 1;
        }
    }
    let len = items.len();
    let mut scratch: Vec<Item> = Vec::new();
    for (byte, count) in counts.iter().enumerate() {
        // A byte every item shares orders nothing.
        if count.contains(&len) {
            continue;
        }
        if scratch.is_empty() {
            scratch.resize(len, Item::default());
        }
        let mut next = [0usize; 256];
        let mut total = 0;
        for (slot, &c) in next.iter_mut().zip(count.iter()) {
            *slot = total;
            total += c;
        }
        for item in items.iter() {
            let digit = usize::from((item.timestamp >> (8 * byte)) as u8);
            scratch[next[digit]] = *item;
            next[digit] += 1;
        }
        mem::swap(items, &mut scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    #[test]
    fn sorts_as_a_comparison_sort_does() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (len, spread) in [
            (0, 1),
            (10, 3),
            (600, 5),
            (5000, 1 << 40),
            (5000, u64::MAX),
            (3000, 1),
        ] {
            let mut items: Vec<Item> = (0..len)
                .map(|_| Item {
                    timestamp: next() % spread,
                    id: Id(core::array::from_fn(|_| next() as u8 % 4)),
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_unstable();
            sort_items(&mut items);
            assert_eq!(items, expected, "{len} items, timestamps below {spread}");
        }
    }
}
