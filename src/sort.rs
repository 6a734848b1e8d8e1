//! Putting a large batch of new items into protocol order as it enters a set.
//!
//! A comparison sort of a million 40-byte items moves each about twenty times through memory,
//! and copying items in the order of sorted keys reads the caller's IDs all over memory, each
//! read waiting on it. Instead, one pass reads the caller's arrays front to back and places
//! each item in its bucket by the top bits of its timestamp: a few hundred buckets of a few
//! thousand items, each filled front to back, so the writes stream too. Each bucket is then
//! sorted while it sits in the cache: 8-byte keys (the timestamp's other bits and the item's
//! place in the bucket) radix-sorted, the items moved once to where their keys ended, and runs
//! of one timestamp (short in real sets) sorted by ID. Each sorted bucket is indexed for the
//! snapshot there and then, while it is still in the cache.

use alloc::vec;
use alloc::vec::Vec;

use crate::engine::range_index::{RangeIndex, RangeIndexBuilder};
use crate::id::{ID_SIZE, Id, Item};

/// Below this many items a comparison sort of the copied batch wins.
const RADIX_MIN_ITEMS: usize = 4096;
/// The most bits sorted per pass: at most 2,048 counters a pass, which stay in the L1 cache.
const MAX_DIGIT_BITS: u32 = 11;
/// Items in a bucket of the first pass, on average, when there are enough of them: 80 KB of
/// items and 16 KB of keys, which stay in a core's L2 cache while the bucket is sorted (measured
/// on a million items: 4,096 a bucket took a fifth longer to sort, 1,024 a tenth).
const BUCKET_ITEMS: usize = 2048;
/// A bucket this small is sorted by comparison: its radix passes would spend more on
/// counters than on keys.
const SMALL_BUCKET_ITEMS: usize = 256;

/// A batch in protocol order, whether it holds any item twice, and its index (of use only
/// when it holds no item twice and becomes a snapshot as it is).
pub(crate) struct SortedBatch {
    pub(crate) items: Vec<Item>,
    pub(crate) repeats: bool,
    pub(crate) index: RangeIndex,
}

/// The items of `timestamps` and `ids` (32 bytes each, back to back, as `insert_many` takes
/// them) in protocol order, or `None` when the batch is small or its timestamps span more than
/// 32 bits: then copy the batch as it is and sort it.
///
/// Besides the items and their index, the sort holds 16 bytes for each item of the largest
/// bucket while it runs: some tens of kilobytes, unless the timestamps bunch up.
pub(crate) fn sort_batch(timestamps: &[u64], ids: &[u8]) -> Option<SortedBatch> {
    // Firmware sets are small: the comparison sort serves them, and this stays out of flash.
    if cfg!(not(feature = "std"))
        || timestamps.len() < RADIX_MIN_ITEMS
        || u32::try_from(timestamps.len()).is_err()
        || Some(ids.len()) != timestamps.len().checked_mul(ID_SIZE)
    {
        return None;
    }
    let (base, max) = timestamps
        .iter()
        .fold((u64::MAX, 0), |(low, high), &timestamp| {
            (low.min(timestamp), high.max(timestamp))
        });
    let bits = 64 - (max - base).leading_zeros();
    if bits > 32 {
        return None;
    }
    let wanted_buckets = (timestamps.len() / BUCKET_ITEMS).next_power_of_two();
    // A span of one digit or less: one bucket for each timestamp, nothing left to sort on.
    let top_bits = if bits <= MAX_DIGIT_BITS {
        bits
    } else {
        wanted_buckets.trailing_zeros().clamp(1, MAX_DIGIT_BITS)
    };
    let low_bits = bits - top_bits;
    let bucket_of = |timestamp: u64| ((timestamp - base) >> low_bits) as usize;
    // `starts[b]` becomes where bucket `b` begins; the last entry is the end of all.
    let mut starts = vec![0usize; (1 << top_bits) + 1];
    for &timestamp in timestamps {
        starts[bucket_of(timestamp) + 1] += 1;
    }
    for bucket in 1..starts.len() {
        starts[bucket] += starts[bucket - 1];
    }
    let mut next = starts.clone();
    let mut items = vec![Item::default(); timestamps.len()];
    for (&timestamp, id) in timestamps.iter().zip(ids.chunks_exact(ID_SIZE)) {
        let slot = &mut next[bucket_of(timestamp)];
        items[*slot] = Item {
            timestamp,
            id: Id(id.try_into().expect("32 bytes an item")),
        };
        *slot += 1;
    }
    let largest = starts.windows(2).map(|pair| pair[1] - pair[0]).max();
    let mut sorter = BucketSorter::new(largest.unwrap_or(0), base, low_bits);
    let mut repeats = false;
    let mut index = RangeIndexBuilder::with_capacity(items.len());
    for pair in starts.windows(2) {
        let bucket = &mut items[pair[0]..pair[1]];
        repeats |= sorter.sort(bucket);
        // While the bucket is in the cache: indexing the batch at the seal would read all of
        // it again from memory.
        index.extend(bucket);
    }
    Some(SortedBatch {
        items,
        repeats,
        index: index.finish(),
    })
}

/// What sorting a bucket needs, kept from bucket to bucket.
struct BucketSorter {
    /// The batch's smallest timestamp: the sort is on timestamps relative to it.
    base: u64,
    /// Sorted on: the relative timestamp bits that vary inside a bucket.
    low_bits: u32,
    keys: Vec<u64>,
    scratch: Vec<u64>,
    counts: Vec<usize>,
}

impl BucketSorter {
    fn new(largest_bucket: usize, base: u64, low_bits: u32) -> Self {
        let keys = match low_bits {
            0 => 0,
            _ => largest_bucket,
        };
        Self {
            base,
            low_bits,
            keys: Vec::with_capacity(keys),
            scratch: vec![0; keys],
            counts: Vec::new(),
        }
    }

    /// Sorts one bucket (its items share every timestamp bit above `low_bits`); true when it
    /// holds an item twice.
    fn sort(&mut self, bucket: &mut [Item]) -> bool {
        if self.low_bits == 0 || bucket.len() <= SMALL_BUCKET_ITEMS {
            crate::id::sort_items(bucket);
            return bucket.windows(2).any(|pair| pair[0] == pair[1]);
        }
        let mask = (1u64 << self.low_bits) - 1;
        self.keys.clear();
        self.keys.extend(
            bucket
                .iter()
                .enumerate()
                .map(|(place, item)| (((item.timestamp - self.base) & mask) << 32) | place as u64),
        );
        let scratch = &mut self.scratch[..bucket.len()];
        sort_low_bits(&mut self.keys, scratch, self.low_bits, &mut self.counts);
        move_to_sorted_places(bucket, &mut self.keys);
        let mut repeats = false;
        for run in bucket
            .chunk_by_mut(|a, b| a.timestamp == b.timestamp)
            .filter(|run| run.len() > 1)
        {
            // One timestamp: the items' order is their IDs'.
            crate::id::sort_items(run);
            repeats |= run.windows(2).any(|pair| pair[0] == pair[1]);
        }
        repeats
    }
}

/// Puts at each place `j` of `items` the item that was at place `sources[j] & 0xffff_ffff`
/// (the keys' low halves are a permutation), following the permutation's cycles: each item
/// moves once, with no second buffer. `sources` is used up, to mark what is done.
fn move_to_sorted_places(items: &mut [Item], sources: &mut [u64]) {
    let source = |key: u64| (key & u64::from(u32::MAX)) as usize;
    for first in 0..items.len() {
        let mut from = source(sources[first]);
        if from == first {
            // Already in place, or moved there by an earlier cycle.
            continue;
        }
        let held = items[first];
        let mut to = first;
        while from != first {
            items[to] = items[from];
            sources[to] = to as u64;
            to = from;
            from = source(sources[to]);
        }
        items[to] = held;
        sources[to] = to as u64;
    }
}

/// Sorts one bucket's `keys` on the lowest `bits` bits of their high halves, stably, through
/// `scratch` (as long as `keys`), in passes of at most [`MAX_DIGIT_BITS`].
fn sort_low_bits(keys: &mut [u64], scratch: &mut [u64], bits: u32, counts: &mut Vec<usize>) {
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
pub(crate) mod tests {
    use super::*;

    /// A batch as `insert_many` takes it (timestamps, IDs back to back) and its items sorted,
    /// repeats kept. Timestamps lie far from zero and across a power of two (buckets are cut
    /// relative to the smallest timestamp, not at absolute bit boundaries) within `spread`; a
    /// skewed batch has most in a narrow band and a few far out, so most first-pass buckets are
    /// tiny and one holds nearly everything. With few IDs, items repeat.
    pub(crate) fn random_batch(
        len: usize,
        spread: u64,
        skewed: bool,
        few_ids: bool,
        next: &mut impl FnMut() -> u64,
    ) -> (Vec<u64>, Vec<u8>, Vec<Item>) {
        let base = (1u64 << 40) - 3_000;
        let timestamps: Vec<u64> = (0..len)
            .map(|i| match skewed && i % 500 != 0 {
                true => base + next() % 50_000,
                false => base + next() % spread,
            })
            .collect();
        let ids: Vec<u8> = (0..len)
            .flat_map(|_| match few_ids {
                true => [(next() % 3) as u8; 32],
                false => core::array::from_fn(|_| next() as u8),
            })
            .collect();
        let mut sorted: Vec<Item> = timestamps
            .iter()
            .zip(ids.chunks_exact(32))
            .map(|(&timestamp, id)| Item {
                timestamp,
                id: Id(id.try_into().unwrap()),
            })
            .collect();
        sorted.sort();
        (timestamps, ids, sorted)
    }

    #[test]
    fn sorts_as_a_comparison_sort_does_and_finds_every_repeat() {
        let mut next = crate::test_rng::xorshift64(0x2545_f491_4f6c_dd1d);
        // (items, spread, skewed, few IDs): see `random_batch`.
        for (len, spread, skewed, few_ids) in [
            (10, 3, false, false),
            (5000, 1, false, false),
            (5000, 1, false, true),
            (5000, 3, false, false),
            (6000, 1 << 11, false, false),
            (6000, 1 << 12, false, false),
            (6000, 1 << 12, false, true),
            (6000, 1 << 20, false, false),
            (6000, 1 << 32, false, false),
            (40_000, 1 << 24, false, false),
            (40_000, 1 << 24, false, true),
            (40_000, 1 << 32, false, false),
            (40_000, 1 << 27, true, false),
            (40_000, 1 << 27, true, true),
        ] {
            let case = format!("{len} items, spread {spread}, skewed {skewed}, few {few_ids}");
            let (timestamps, ids, expected) = random_batch(len, spread, skewed, few_ids, &mut next);
            match sort_batch(&timestamps, &ids) {
                Some(sorted) => {
                    assert_eq!(sorted.items, expected, "{case}");
                    let repeats = expected.windows(2).any(|pair| pair[0] == pair[1]);
                    assert_eq!(sorted.repeats, repeats, "{case}");
                    assert!(sorted.index.describes(&sorted.items), "{case}");
                    assert_eq!(repeats, few_ids, "{case}: the case is as meant");
                }
                // Firmware builds always sort by comparison.
                None => assert!(
                    len < RADIX_MIN_ITEMS || cfg!(not(feature = "std")),
                    "{case}"
                ),
            }
        }
        let wide: Vec<u64> = (0..5000).map(|_| next() >> 1).collect();
        assert!(
            sort_batch(&wide, &vec![0; 5000 * 32]).is_none(),
            "a span over 32 bits sorts by comparison"
        );
    }

    #[test]
    fn moving_to_sorted_places_follows_every_cycle() {
        let items: Vec<Item> = (0..7u8)
            .map(|byte| Item {
                timestamp: u64::from(byte),
                id: Id([byte; 32]),
            })
            .collect();
        // Place j takes the item from place sources[j]: cycles (0 3 5), (1 6), and 2, 4 fixed.
        let sources = [3u64, 6, 2, 5, 4, 0, 1];
        let mut moved = items.clone();
        let mut keys: Vec<u64> = sources.iter().map(|&s| (99 << 32) | s).collect();
        move_to_sorted_places(&mut moved, &mut keys);
        let expected: Vec<Item> = sources.iter().map(|&s| items[s as usize]).collect();
        assert_eq!(moved, expected);
    }
}
