//! What a sealed snapshot keeps so that ranges are cheap: running sums of its IDs, so any range's
//! fingerprint costs two lookups and a few additions instead of a scan over the range; and a
//! sample of its timestamps, so finding where a range ends reads a small array that stays in
//! cache instead of probing the items all over memory.

use alloc::vec::Vec;

use super::fingerprint::IdSum;
use crate::id::Item;

/// One sample is kept every this many items: a 32-byte sum and an 8-byte timestamp. With std,
/// every 16 items: 2.5 bytes an item on top of the item's own 40, and a range sum adds or
/// subtracts at most 8 IDs at each end. On firmware (no std), every 64: 0.6 bytes an item, which
/// on a 64 KB board is room for about 50 more items a side, for at most 32 additions at each
/// end, small beside the SHA-256 compression every fingerprint costs anyway.
pub(crate) const SAMPLE_EVERY: usize = if cfg!(feature = "std") { 16 } else { 64 };

/// `samples[k]` is the sum of the first `k * SAMPLE_EVERY` IDs; `items` below is always the
/// slice the index was built on.
/// `timestamps[k]` is the timestamp of item `k * SAMPLE_EVERY`.
#[derive(Debug, Default)]
pub(crate) struct RangeIndex {
    samples: Vec<IdSum>,
    timestamps: Vec<u64>,
}

impl RangeIndex {
    pub(crate) fn build(items: &[Item]) -> Self {
        let mut builder = RangeIndexBuilder::with_capacity(items.len());
        builder.extend(items);
        builder.finish()
    }

    /// True when this is the index [`build`](Self::build) makes of `items` (for checks).
    pub(crate) fn describes(&self, items: &[Item]) -> bool {
        let built = Self::build(items);
        built.samples == self.samples && built.timestamps == self.timestamps
    }

    /// A position at or after `first` (and at most `end`) such that every item from `first` up
    /// to it has a timestamp below `timestamp`: where a search for a bound at `timestamp` may
    /// start. Gallops over the sampled timestamps, then searches the stretch it found.
    pub(crate) fn skip_below(&self, first: usize, end: usize, timestamp: u64) -> usize {
        let limit = end.div_ceil(SAMPLE_EVERY).min(self.timestamps.len());
        let mut low = first / SAMPLE_EVERY + 1;
        if low >= limit || self.timestamps[low] >= timestamp {
            return first;
        }
        // Samples before `low` are below `timestamp`; find the first one that is not.
        let mut step = 1;
        while low + step < limit && self.timestamps[low + step] < timestamp {
            low += step;
            step *= 2;
        }
        let mut count = step.min(limit - low) - 1;
        let mut below = low;
        while count > 0 {
            let half = count / 2;
            if self.timestamps[below + 1 + half] < timestamp {
                below += half + 1;
                count -= half + 1;
            } else {
                count = half;
            }
        }
        // Sample `below` is below `timestamp`, so are the items before it.
        (below * SAMPLE_EVERY).max(first)
    }

    /// Bytes this index holds on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.samples.capacity() * core::mem::size_of::<IdSum>()
            + self.timestamps.capacity() * core::mem::size_of::<u64>()
    }

    /// True when a range this long is summed directly rather than from two prefix sums.
    pub(crate) fn sums_directly(begin: usize, end: usize) -> bool {
        end - begin <= 2 * SAMPLE_EVERY
    }

    /// The sum of the first `n` IDs, from the nearest sample.
    pub(crate) fn prefix_sum(&self, items: &[Item], n: usize) -> IdSum {
        let below = n / SAMPLE_EVERY;
        let offset = n % SAMPLE_EVERY;
        let above = below + 1;
        if offset > SAMPLE_EVERY / 2 && above < self.samples.len() {
            let mut sum = self.samples[above];
            items[n..above * SAMPLE_EVERY]
                .iter()
                .for_each(|item| sum.sub_id(&item.id));
            sum
        } else {
            let mut sum = self.samples[below];
            items[below * SAMPLE_EVERY..n]
                .iter()
                .for_each(|item| sum.add_id(&item.id));
            sum
        }
    }
}

/// A [`RangeIndex`] made a stretch of items at a time, in protocol order: a large batch is
/// indexed bucket by bucket as it is sorted, while each bucket is in the cache, instead of all
/// read again from memory when the set seals.
pub(crate) struct RangeIndexBuilder {
    index: RangeIndex,
    sum: IdSum,
    items: usize,
}

impl RangeIndexBuilder {
    pub(crate) fn with_capacity(items: usize) -> Self {
        let mut samples = Vec::with_capacity(items / SAMPLE_EVERY + 1);
        samples.push(IdSum::ZERO);
        Self {
            index: RangeIndex {
                samples,
                timestamps: Vec::with_capacity(items.div_ceil(SAMPLE_EVERY)),
            },
            sum: IdSum::ZERO,
            items: 0,
        }
    }

    /// The next items, in protocol order.
    pub(crate) fn extend(&mut self, mut items: &[Item]) {
        while let Some(first) = items.first() {
            let offset = self.items % SAMPLE_EVERY;
            if offset == 0 {
                self.index.timestamps.push(first.timestamp);
            }
            let (part, rest) = items.split_at((SAMPLE_EVERY - offset).min(items.len()));
            part.iter().for_each(|item| self.sum.add_id(&item.id));
            self.items += part.len();
            if self.items % SAMPLE_EVERY == 0 {
                self.index.samples.push(self.sum);
            }
            items = rest;
        }
    }

    pub(crate) fn finish(self) -> RangeIndex {
        self.index
    }
}

pub(crate) fn direct_sum(items: &[Item]) -> IdSum {
    let mut sum = IdSum::ZERO;
    items.iter().for_each(|item| sum.add_id(&item.id));
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    #[test]
    fn skipping_by_sampled_timestamps_never_passes_an_item_at_or_above() {
        let items: Vec<Item> = (0..500u64)
            .map(|i| Item {
                timestamp: i / 3 * 2,
                id: Id([i as u8; 32]),
            })
            .collect();
        let index = RangeIndex::build(&items);
        for first in (0..=items.len()).step_by(7) {
            for end in [first, (first + 40).min(items.len()), items.len()] {
                for timestamp in [0, 1, 2, 50, 51, 200, 331, 332, 333, 1000] {
                    let start = index.skip_below(first, end, timestamp);
                    assert!(
                        first <= start && start <= end.max(first),
                        "{first} {end} {timestamp}"
                    );
                    assert!(
                        items[first..start]
                            .iter()
                            .all(|item| item.timestamp < timestamp),
                        "{first}..{start} at {timestamp}"
                    );
                    // It skips most of what it can: at most a sample's worth short.
                    let exact = first
                        + items[first..end]
                            .iter()
                            .take_while(|i| i.timestamp < timestamp)
                            .count();
                    assert!(
                        exact - start <= 2 * SAMPLE_EVERY,
                        "{first} {end} {timestamp}: {start} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_prefix_sum_difference_equals_the_direct_sum() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let items: Vec<Item> = (0..150u64)
            .map(|timestamp| Item {
                timestamp,
                id: Id(core::array::from_fn(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 56) as u8
                })),
            })
            .collect();
        let index = RangeIndex::build(&items);
        for begin in 0..=items.len() {
            for end in begin..=items.len() {
                let mut sum = index.prefix_sum(&items, end);
                sum.sub(&index.prefix_sum(&items, begin));
                assert_eq!(sum, direct_sum(&items[begin..end]), "{begin}..{end}");
            }
        }
    }
}
