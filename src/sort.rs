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
/// Keys in a bucket of the first pass, on average, when there are enough of them: 32 KB,
/// which the further passes sort in the cache.
const BUCKET_ITEMS: usize = 4096;
/// A bucket this small is sorted by comparison: its radix passes would spend more on
/// counters than on keys.
const SMALL_BUCKET_ITEMS: usize = 256;

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
/// timestamp bits, stably.
///
/// One pass through main memory places every key in its bucket by its top bits (at most
/// [`MAX_DIGIT_BITS`]; about [`BUCKET_ITEMS`] keys a bucket), making the keys as it goes; each
/// bucket is then sorted on its remaining bits while it sits in the cache. Passes over all the
/// keys in memory (three for a 27-bit span) cost more than that one and a pass in the cache for
/// each further digit.
fn radix_sort(timestamps: &[u64], base: u64, bits: u32) -> Vec<u64> {
    let wanted_buckets = (timestamps.len() / BUCKET_ITEMS).next_power_of_two();
    let top_bits = if bits <= MAX_DIGIT_BITS {
        bits
    } else {
        wanted_buckets.trailing_zeros().clamp(1, MAX_DIGIT_BITS)
    };
    let low_bits = bits - top_bits;
    // `starts[d]` becomes where bucket `d` begins; the last entry is the end of all.
    let mut starts = vec![0usize; (1 << top_bits) + 1];
    for &timestamp in timestamps {
        starts[(((timestamp - base) >> low_bits) + 1) as usize] += 1;
    }
    for bucket in 1..starts.len() {
        starts[bucket] += starts[bucket - 1];
    }
    let mut next = starts.clone();
    let mut keys = vec![0u64; timestamps.len()];
    for (position, &timestamp) in timestamps.iter().enumerate() {
        let relative = timestamp - base;
        let slot = &mut next[(relative >> low_bits) as usize];
        keys[*slot] = (relative << 32) | position as u64;
        *slot += 1;
    }
    if low_bits > 0 {
        let largest = starts.windows(2).map(|pair| pair[1] - pair[0]).max();
        let mut scratch = vec![0u64; largest.unwrap_or(0)];
        let mut counts = Vec::new();
        for pair in starts.windows(2) {
            let bucket = &mut keys[pair[0]..pair[1]];
            let scratch = &mut scratch[..bucket.len()];
            sort_low_bits(bucket, scratch, low_bits, &mut counts);
        }
    }
    keys
}

/// Sorts one bucket's `keys` on their lowest `bits` timestamp bits, stably, through `scratch`
/// (as long as `keys`), in passes of at most [`MAX_DIGIT_BITS`].
fn sort_low_bits(keys: &mut [u64], scratch: &mut [u64], bits: u32, counts: &mut Vec<usize>) {
    if keys.len() <= SMALL_BUCKET_ITEMS {
        // Every key differs (its low half is a position), so any sort of the whole keys is the
        // stable order by timestamp.
        keys.sort_unstable();
        return;
    }
    let passes = bits.div_ceil(MAX_DIGIT_BITS);
    let digit_bits = bits.div_ceil(passes);
    let buckets = 1usize << digit_bits;
    let mask = (buckets - 1) as u64;
    counts.clear();
    counts.resize(buckets * passes as usize, 0);
    for &key in keys.iter() {
        for pass in 0..passes {
            let digit = ((key >> (32 + pass * digit_bits)) & mask) as usize;
            counts[pass as usize * buckets + digit] += 1;
        }
    }
    let (mut source, mut target) = (keys, scratch);
    for (pass, next) in counts.chunks_exact_mut(buckets).enumerate() {
        let mut total = 0;
        for slot in next.iter_mut() {
            let count = *slot;
            *slot = total;
            total += count;
        }
        let shift = 32 + pass as u32 * digit_bits;
        for &key in source.iter() {
            let slot = &mut next[((key >> shift) & mask) as usize];
            target[*slot] = key;
            *slot += 1;
        }
        core::mem::swap(&mut source, &mut target);
    }
    // After an odd number of passes the sorted keys are in the scratch.
    if passes % 2 == 1 {
        target.copy_from_slice(source);
    }
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
        // (items, spread, skewed): a skewed batch has most timestamps in a narrow band and a
        // few far out, so most first-pass buckets are tiny and one holds nearly everything.
        for (len, spread, skewed) in [
            (10, 3, false),
            (5000, 1, false),
            (5000, 3, false),
            (6000, 1 << 11, false),
            (6000, 1 << 12, false),
            (6000, 1 << 20, false),
            (6000, 1 << 32, false),
            (40_000, 1 << 24, false),
            (40_000, 1 << 32, false),
            (40_000, 1 << 27, true),
        ] {
            let timestamps: Vec<u64> = (0..len)
                .map(|i| match skewed && i % 500 != 0 {
                    true => 7_000 + next() % 50_000,
                    false => 7_000 + next() % spread,
                })
                .collect();
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
