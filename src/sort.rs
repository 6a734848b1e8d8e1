//! Putting a batch of new items into protocol order as it enters a set.
//!
//! A comparison sort of a million 40-byte items moves each about twenty times through memory.
//! `insert_many` instead radix-sorts 8-byte keys (an item's timestamp, relative to the batch's
//! smallest, and its position in the caller's arrays) on the timestamp bits that vary, then
//! copies each item once, in key order, from the caller's arrays into the set: the copy it
//! had to make anyway. Runs of equal timestamps (short in real sets) are then sorted by ID;
//! the keys say where they are, so finding them reads 8 bytes an item, not the items' 40.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

/// Below this many items a comparison sort of the copied batch wins.
const RADIX_MIN_ITEMS: usize = 4096;
/// The most bits sorted per pass: at most 2,048 counters a pass, which stay in the L1 cache.
const MAX_DIGIT_BITS: u32 = 11;

/// A batch's items in ascending timestamp order (ties in position order): sorted keys that hold
/// each item's timestamp, relative to the batch's smallest, in the high 32 bits and its position
/// in the caller's arrays in the low 32.
///
/// The keys are handed back as they were sorted, not copied into a narrower list: a second
/// list would be freed after the set's items were allocated, and the allocator could keep it
/// resident for good (measured: 1.5 bytes an item more on a million-item set).
pub(crate) struct TimestampOrder {
    base: u64,
    keys: Vec<u64>,
}

impl TimestampOrder {
    /// The order of `timestamps`, or `None` when the batch is small or its timestamps span more
    /// than 32 bits: then copy the batch as it is and sort it.
    pub(crate) fn of(timestamps: &[u64]) -> Option<Self> {
        // Firmware sets are small: the comparison sort serves them, and this stays out of flash.
        if cfg!(not(feature = "std"))
            || timestamps.len() < RADIX_MIN_ITEMS
            || u32::try_from(timestamps.len()).is_err()
        {
            return None;
        }
        let (base, max) = timestamps
            .iter()
            .fold((u64::MAX, 0), |(low, high), &timestamp| {
                (low.min(timestamp), high.max(timestamp))
            });
        let span_bits = 64 - (max - base).leading_zeros();
        if span_bits > 32 {
            return None;
        }
        Some(Self {
            base,
            keys: radix_sort(timestamps, base, span_bits),
        })
    }

    /// `(timestamp, position)` of each item, in order. The timestamp comes from the key, so
    /// laying the batch down reads only the IDs out of order, not the timestamps too.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.keys.iter().map(|&key| self.decode(key))
    }

    #[inline]
    fn decode(&self, key: u64) -> (u64, usize) {
        (
            self.base + (key >> 32),
            (key & u64::from(u32::MAX)) as usize,
        )
    }

    /// The runs of two or more items with one timestamp, as ranges of positions in this order:
    /// the only places where the items' IDs still decide their order, and where a batch can
    /// repeat an item.
    pub(crate) fn ties(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let keys = &self.keys;
        let timestamp = |key: &u64| key >> 32;
        let mut searched = 0;
        // A plain scan for equal neighbours: ties are rare, and this reads the keys at memory
        // speed (a `chunk_by` that yields every run, tie or not, took half as long again).
        core::iter::from_fn(move || {
            let start = searched
                + keys
                    .get(searched..)?
                    .windows(2)
                    .position(|pair| timestamp(&pair[0]) == timestamp(&pair[1]))?;
            let tied = timestamp(&keys[start]);
            let end = keys[start..]
                .iter()
                .position(|key| timestamp(key) != tied)
                .map_or(keys.len(), |length| start + length);
            searched = end;
            Some(start..end)
        })
    }
}

/// The keys of `timestamps` (each relative to `base`, spanning `bits` bits), sorted on their
/// timestamp bits, stably, in as few passes of at most [`MAX_DIGIT_BITS`] as the span needs. All
/// passes' counters are taken in one read of the timestamps, and the first pass makes the keys
/// as it places them: no pass only to make them. The counters live on the heap: on a
/// microcontroller's small stack they would not fit.
fn radix_sort(timestamps: &[u64], base: u64, bits: u32) -> Vec<u64> {
    let passes = bits.div_ceil(MAX_DIGIT_BITS).max(1);
    let digit_bits = bits.div_ceil(passes);
    let buckets = 1usize << digit_bits;
    let mask = (buckets - 1) as u64;
    let mut counts = vec![0usize; buckets * passes as usize];
    for &timestamp in timestamps {
        let relative = timestamp - base;
        for pass in 0..passes {
            let digit = ((relative >> (pass * digit_bits)) & mask) as usize;
            counts[pass as usize * buckets + digit] += 1;
        }
    }
    for next in counts.chunks_exact_mut(buckets) {
        let mut total = 0;
        for slot in next.iter_mut() {
            let count = *slot;
            *slot = total;
            total += count;
        }
    }
    let mut passes_next = counts.chunks_exact_mut(buckets);
    let mut keys = vec![0u64; timestamps.len()];
    if let Some(next) = passes_next.next() {
        for (position, &timestamp) in timestamps.iter().enumerate() {
            let relative = timestamp - base;
            let slot = &mut next[(relative & mask) as usize];
            keys[*slot] = (relative << 32) | position as u64;
            *slot += 1;
        }
    }
    let mut spare = if passes > 1 {
        vec![0u64; keys.len()]
    } else {
        Vec::new()
    };
    for (pass, next) in passes_next.enumerate() {
        let shift = 32 + (pass as u32 + 1) * digit_bits;
        for &key in &keys {
            let slot = &mut next[((key >> shift) & mask) as usize];
            spare[*slot] = key;
            *slot += 1;
        }
        core::mem::swap(&mut keys, &mut spare);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_a_stable_sort_by_timestamp_does() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (len, spread) in [
            (10, 3),
            (5000, 1),
            (5000, 3),
            (6000, 1 << 11),
            (6000, 1 << 12),
            (6000, 1 << 20),
            (6000, 1 << 32),
        ] {
            let timestamps: Vec<u64> = (0..len).map(|_| 7_000 + next() % spread).collect();
            let mut expected: Vec<usize> = (0..len).collect();
            expected.sort_by_key(|&i| timestamps[i]);
            match TimestampOrder::of(&timestamps) {
                Some(order) => {
                    let (sorted, positions): (Vec<u64>, Vec<usize>) = order.iter().unzip();
                    assert_eq!(positions, expected, "{len} timestamps spread {spread}");
                    let want: Vec<u64> = expected.iter().map(|&i| timestamps[i]).collect();
                    assert_eq!(sorted, want, "{len} timestamps spread {spread}");
                    let mut ties = Vec::new();
                    let mut start = 0;
                    for end in 1..=want.len() {
                        if end == want.len() || want[end] != want[start] {
                            if end - start > 1 {
                                ties.push(start..end);
                            }
                            start = end;
                        }
                    }
                    let found: Vec<Range<usize>> = order.ties().collect();
                    assert_eq!(found, ties, "{len} timestamps spread {spread}");
                }
                // Firmware builds always sort by comparison.
                None => assert!(
                    len < RADIX_MIN_ITEMS || cfg!(not(feature = "std")),
                    "{len} timestamps spread {spread}"
                ),
            }
        }
        let wide: Vec<u64> = (0..5000).map(|_| next() >> 1).collect();
        assert!(
            TimestampOrder::of(&wide).is_none(),
            "a span over 32 bits sorts by comparison"
        );
    }
}
