//! Running sums of a sealed snapshot's IDs, so any range's fingerprint costs two lookups and a few
//! additions instead of a scan over the range.

use alloc::vec::Vec;

use super::fingerprint::IdSum;
use crate::id::Item;

/// One running sum is kept every this many items: 32 bytes per 16 items, 2 bytes an item on top
/// of the item's own 40. A range sum then adds or subtracts at most 8 IDs at each end.
pub(crate) const SAMPLE_EVERY: usize = 16;

/// `samples[k]` is the sum of the first `k * SAMPLE_EVERY` IDs; `items` below is always the
/// slice the index was built on.
#[derive(Debug, Default)]
pub(crate) struct SumIndex {
    samples: Vec<IdSum>,
}

impl SumIndex {
    pub(crate) fn build(items: &[Item]) -> Self {
        let mut samples = Vec::with_capacity(items.len() / SAMPLE_EVERY + 1);
        let mut sum = IdSum::ZERO;
        samples.push(sum);
        for chunk in items.chunks_exact(SAMPLE_EVERY) {
            chunk.iter().for_each(|item| sum.add_id(&item.id));
            samples.push(sum);
        }
        Self { samples }
    }

    /// Bytes this index holds on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.samples.capacity() * core::mem::size_of::<IdSum>()
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
        let index = SumIndex::build(&items);
        for begin in 0..=items.len() {
            for end in begin..=items.len() {
                let mut sum = index.prefix_sum(&items, end);
                sum.sub(&index.prefix_sum(&items, begin));
                assert_eq!(sum, direct_sum(&items[begin..end]), "{begin}..{end}");
            }
        }
    }
}
