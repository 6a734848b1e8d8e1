//! Putting a batch of new items into protocol order as it enters a set.
//!
//! A comparison sort of a million 40-byte items moves each about twenty times through memory.
//! `insert_many` instead radix-sorts 8-byte keys (an item's timestamp, relative to the batch's
//! smallest, and its position in the caller's arrays) on the timestamp bits that vary, then
//! copies each item once, in key order, from the caller's arrays into the set: the copy it
//! had to make anyway. Runs of equal timestamps (short in real sets) are then sorted by ID.

use alloc::vec;
use alloc::vec::Vec;

/// Below this many items a comparison sort of the copied batch wins.
const RADIX_MIN_ITEMS: usize = 4096;
/// Bits sorted per pass: 2,048 counters, which stay in the L1 cache.
const DIGIT_BITS: u32 = 11;

/// The positions of `timestamps` in ascending timestamp order (ties in position order), each in
/// the low 32 bits of a key (use [`position`]), or `None` when the batch is small or its
/// timestamps span more than 32 bits: then copy the batch as it is and sort it.
///
/// The keys are handed back as they were sorted, not copied into a narrower list: a second
/// list would be freed after the set's items were allocated, and the allocator could keep it
/// resident for good (measured: 1.5 bytes an item more on a million-item set).
pub(crate) fn timestamp_order(timestamps: &[u64]) -> Option<Vec<u64>> {
    // Firmware sets are small: the comparison sort serves them, and this stays out of flash.
    if cfg!(not(feature = "std")) {
        return None;
    }
    let (&min, &max) = (timestamps.iter().min()?, timestamps.iter().max()?);
    let span_bits = 64 - (max - min).leading_zeros();
    if timestamps.len() < RADIX_MIN_ITEMS
        || span_bits > 32
        || u32::try_from(timestamps.len()).is_err()
    {
        return None;
    }
    // The relative timestamp in the high 32 bits, the position in the low 32.
    let keys: Vec<u64> = timestamps
        .iter()
        .enumerate()
        .map(|(position, &timestamp)| ((timestamp - min) << 32) | position as u64)
        .collect();
    Some(radix_sort(keys, span_bits))
}

/// The position held in a key of [`timestamp_order`].
pub(crate) fn position(key: u64) -> usize {
    (key & u64::from(u32::MAX)) as usize
}

/// Sorts `keys` on bits 32 to `32 + bits`, stably. The counters live on the heap: on a
/// microcontroller's small stack 2,048 of them would not fit.
fn radix_sort(mut keys: Vec<u64>, bits: u32) -> Vec<u64> {
    let mut spare = vec![0u64; keys.len()];
    let mut next = vec![0usize; 1 << DIGIT_BITS];
    let mut shift = 32;
    while shift < 32 + bits {
        let digit = |key: u64| ((key >> shift) & ((1 << DIGIT_BITS) - 1)) as usize;
        next.fill(0);
        keys.iter().for_each(|&key| next[digit(key)] += 1);
        let mut total = 0;
        for slot in next.iter_mut() {
            let count = *slot;
            *slot = total;
            total += count;
        }
        for &key in &keys {
            let slot = &mut next[digit(key)];
            spare[*slot] = key;
            *slot += 1;
        }
        core::mem::swap(&mut keys, &mut spare);
        shift += DIGIT_BITS;
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
            (6000, 1 << 20),
            (6000, 1 << 32),
        ] {
            let timestamps: Vec<u64> = (0..len).map(|_| 7_000 + next() % spread).collect();
            let mut expected: Vec<usize> = (0..len).collect();
            expected.sort_by_key(|&i| timestamps[i]);
            match timestamp_order(&timestamps) {
                Some(order) => assert_eq!(
                    order.into_iter().map(position).collect::<Vec<_>>(),
                    expected,
                    "{len} timestamps spread {spread}"
                ),
                // Firmware builds always sort by comparison.
                None => assert!(
                    len < RADIX_MIN_ITEMS || cfg!(not(feature = "std")),
                    "{len} timestamps spread {spread}"
                ),
            }
        }
        let wide: Vec<u64> = (0..5000).map(|_| next() >> 1).collect();
        assert_eq!(
            timestamp_order(&wide),
            None,
            "a span over 32 bits sorts by comparison"
        );
    }
}
