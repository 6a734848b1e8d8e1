//! The mutable item set: cheap inserts and removals, sealed into a [`Snapshot`] on demand.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::mem;

use crate::engine::range_index::RangeIndex;
use crate::error::Error;
use crate::id::{ID_SIZE, Id, Item};
use crate::lock::Lock;
use crate::snapshot::Snapshot;

/// A set of `(timestamp, id)` items that any thread may change while sessions read snapshots of it.
///
/// Changes are queued and merged into a new sealed snapshot the next time one is asked for, so a
/// batch of inserts costs one sort, and asking again with nothing changed costs nothing.
#[derive(Default)]
pub struct ItemSet {
    state: Lock<SetState>,
}

struct SetState {
    sealed: Snapshot,
    /// Items to add at the next seal; may repeat each other or items already sealed.
    inserts: Vec<Item>,
    /// How much of the seal's sorting `inserts` already has behind it (`insert_many` lays large
    /// batches down sorted and knows whether they repeat an item).
    arrangement: Arrangement,
    /// The index of a large batch free of repeats that made `inserts` from nothing, built as
    /// the batch was sorted, and how many items it covers; the seal takes it only while that is
    /// every insert. Boxed: a firmware set never has one, and keeps 4 bytes for it, not 28.
    inserts_index: Option<Box<(RangeIndex, usize)>>,
    /// Items to drop at the next seal, applied after `inserts`. An insert takes its item back out
    /// of here, so whichever of insert/remove came last for an item decides.
    removals: BTreeSet<Item>,
}

impl ItemSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one item (a no-op if it is already there).
    pub fn insert(&self, timestamp: u64, id: Id) -> Result<(), Error> {
        let item = Item::new(timestamp, id)?;
        let mut state = self.state.lock();
        state.removals.remove(&item);
        let joined = Arrangement::joining(state.inserts.last(), &item);
        state.arrangement = state.arrangement.min(joined);
        state.inserts.push(item);
        Ok(())
    }

    /// Adds `timestamps.len()` items; `ids` holds their IDs back to back (`32 * count` bytes).
    /// Nothing is added unless every item is valid.
    pub fn insert_many(&self, timestamps: &[u64], ids: &[u8]) -> Result<(), Error> {
        if Some(ids.len()) != timestamps.len().checked_mul(ID_SIZE) {
            return Err(Error::InvalidArgument(
                "ids must hold exactly 32 bytes for each timestamp",
            ));
        }
        if timestamps.iter().any(|&t| t > Item::MAX_TIMESTAMP) {
            return Err(Error::InvalidArgument(
                "timestamp u64::MAX is reserved by the protocol as infinity",
            ));
        }
        let item_at = |position: usize| Item {
            timestamp: timestamps[position],
            id: Id(ids[position * ID_SIZE..][..ID_SIZE]
                .try_into()
                .unwrap_or_else(|_| panic!("32 bytes an item"))),
        };
        // Sorted before the lock is taken, so that sessions and other writers wait only for
        // the items to be handed over.
        let sorted = crate::sort::sort_batch(timestamps, ids);
        let mut state = self.state.lock();
        let start = state.inserts.len();
        let arranged = match sorted {
            Some(sorted) => {
                state.append(sorted.items);
                state.inserts_index = (start == 0 && !sorted.repeats)
                    .then(|| Box::new((sorted.index, state.inserts.len())));
                if sorted.repeats {
                    Arrangement::Sorted
                } else {
                    Arrangement::StrictlyIncreasing
                }
            }
            None => {
                state.extend((0..timestamps.len()).map(item_at));
                crate::id::sort_items(&mut state.inserts[start..]);
                Arrangement::Sorted
            }
        };
        // In order as a whole only as far as the batch goes on from where the earlier inserts end.
        if let Some(first) = state.inserts.get(start).copied() {
            let joined =
                Arrangement::joining(start.checked_sub(1).map(|i| &state.inserts[i]), &first);
            state.arrangement = state.arrangement.min(joined).min(arranged);
        }
        Ok(())
    }

    /// Adds every item (each already checked by [`Item::new`]).
    pub fn extend<I: IntoIterator<Item = Item>>(&self, items: I) -> Result<(), Error> {
        let items: Vec<Item> = items.into_iter().collect();
        if items
            .iter()
            .any(|item| item.timestamp > Item::MAX_TIMESTAMP)
        {
            return Err(Error::InvalidArgument(
                "timestamp u64::MAX is reserved by the protocol as infinity",
            ));
        }
        self.extend_checked(items);
        Ok(())
    }

    fn extend_checked<I: IntoIterator<Item = Item>>(&self, items: I) {
        let mut state = self.state.lock();
        let before = state.inserts.len();
        state.extend(items);
        if state.inserts.len() > before {
            state.arrangement = Arrangement::Unordered;
        }
    }

    /// Makes room for `additional` more inserts before the next seal, exactly.
    pub fn reserve(&self, additional: usize) {
        self.state.lock().inserts.reserve_exact(additional);
    }

    /// Removes one item (a no-op if it is not there).
    pub fn remove(&self, timestamp: u64, id: Id) {
        let mut state = self.state.lock();
        state.removals.insert(Item { timestamp, id });
    }

    /// Number of distinct items.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// True when the set holds no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the set holds exactly this item.
    pub fn contains(&self, timestamp: u64, id: &Id) -> bool {
        self.snapshot().contains(timestamp, id)
    }

    /// The set as it is now, sealed. With no change since the last call this is the same snapshot
    /// again (no items copied).
    pub fn snapshot(&self) -> Snapshot {
        let mut state = self.state.lock();
        state.seal();
        state.sealed.clone()
    }
}

impl Default for SetState {
    fn default() -> Self {
        Self {
            sealed: Snapshot::default(),
            inserts: Vec::new(),
            arrangement: Arrangement::StrictlyIncreasing,
            inserts_index: None,
            removals: BTreeSet::new(),
        }
    }
}

impl SetState {
    /// Appends items to the inserts; an insert takes its item back out of the removals.
    fn extend<I: IntoIterator<Item = Item>>(&mut self, items: I) {
        let items = items.into_iter();
        self.inserts.reserve(items.size_hint().0);
        if self.removals.is_empty() {
            self.inserts.extend(items);
        } else {
            let removals = &mut self.removals;
            self.inserts.extend(items.inspect(|item| {
                removals.remove(item);
            }));
        }
    }

    /// Appends a batch already made: taken as it is when nothing else is pending.
    fn append(&mut self, items: Vec<Item>) {
        if self.inserts.is_empty() && self.removals.is_empty() {
            self.inserts = items;
        } else {
            self.extend(items);
        }
    }

    fn seal(&mut self) {
        if self.inserts.is_empty() && self.removals.is_empty() {
            return;
        }
        // Made for the first batch alone, in order, free of repeats: of use when nothing came
        // after it (inserts only grow between seals, so the counts tell) and it is all the
        // snapshot will hold.
        let index = self.inserts_index.take().filter(|pending| {
            pending.1 == self.inserts.len()
                && self.sealed.is_empty()
                && self.removals.is_empty()
                && self.arrangement == Arrangement::StrictlyIncreasing
        });
        let mut inserts = mem::take(&mut self.inserts);
        let removals = mem::take(&mut self.removals);
        match mem::replace(&mut self.arrangement, Arrangement::StrictlyIncreasing) {
            Arrangement::Unordered => {
                crate::id::sort_items(&mut inserts);
                inserts.dedup();
            }
            Arrangement::Sorted => inserts.dedup(),
            Arrangement::StrictlyIncreasing => {}
        }
        let base = self.sealed.items();
        let mut merged = if base.is_empty() && removals.is_empty() {
            inserts
        } else {
            merge(base, &inserts, &removals)
        };
        // Spare capacity (from growth or duplicates) would be pinned by every session reading
        // this snapshot; an eighth is the most we keep.
        if merged.capacity() - merged.len() > merged.len() / 8 {
            merged.shrink_to_fit();
        }
        self.sealed = match index {
            Some(pending) => Snapshot::from_sorted_unique_indexed(merged, pending.0),
            None => Snapshot::from_sorted_unique(merged),
        };
    }
}

/// What the seal still has to do to the pending inserts, least done first: sort and drop
/// repeats, drop repeats, nothing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Arrangement {
    Unordered,
    Sorted,
    StrictlyIncreasing,
}

impl Arrangement {
    /// How an item placed right after `last` (none: first of all) keeps the order.
    fn joining(last: Option<&Item>, next: &Item) -> Self {
        match last {
            Some(last) if *last > *next => Self::Unordered,
            Some(last) if *last == *next => Self::Sorted,
            _ => Self::StrictlyIncreasing,
        }
    }
}

/// `(base ∪ inserts) \ removals`, all three sorted and free of duplicates.
fn merge(base: &[Item], inserts: &[Item], removals: &BTreeSet<Item>) -> Vec<Item> {
    let mut merged = Vec::with_capacity(base.len() + inserts.len());
    let (mut b, mut i) = (0, 0);
    while b < base.len() || i < inserts.len() {
        let next = match (base.get(b), inserts.get(i)) {
            (Some(x), Some(y)) if x < y => {
                b += 1;
                *x
            }
            (Some(x), Some(y)) if x == y => {
                b += 1;
                i += 1;
                *x
            }
            (_, Some(y)) => {
                i += 1;
                *y
            }
            (Some(x), None) => {
                b += 1;
                *x
            }
            (None, None) => unreachable!("loop condition"),
        };
        if !removals.contains(&next) {
            merged.push(next);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> Id {
        Id([byte; 32])
    }

    #[test]
    fn last_of_insert_and_remove_wins() {
        let set = ItemSet::new();
        set.insert(1, id(1)).unwrap();
        set.remove(1, id(1));
        assert!(!set.contains(1, &id(1)));
        set.remove(2, id(2));
        set.insert(2, id(2)).unwrap();
        assert!(set.contains(2, &id(2)));
        set.insert(3, id(3)).unwrap();
        set.remove(3, id(3));
        set.insert(3, id(3)).unwrap();
        set.remove(3, id(3));
        assert!(!set.contains(3, &id(3)));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn duplicates_count_once_and_order_is_protocol_order() {
        let set = ItemSet::new();
        for (t, b) in [(7, 2), (3, 1), (7, 1), (3, 1), (1, 9), (7, 2)] {
            set.insert(t, id(b)).unwrap();
        }
        let snapshot = set.snapshot();
        let order: Vec<(u64, u8)> = snapshot
            .items()
            .iter()
            .map(|item| (item.timestamp, item.id.0[0]))
            .collect();
        assert_eq!(order, [(1, 9), (3, 1), (7, 1), (7, 2)]);
    }

    #[test]
    fn snapshots_are_shared_until_the_set_changes_and_never_change_themselves() {
        let set = ItemSet::new();
        set.insert(1, id(1)).unwrap();
        let first = set.snapshot();
        assert!(first.shares_items_with(&set.snapshot()));
        set.insert(2, id(2)).unwrap();
        set.remove(1, id(1));
        let second = set.snapshot();
        assert!(!first.shares_items_with(&second));
        assert_eq!(first.len(), 1);
        assert!(first.contains(1, &id(1)));
        assert_eq!(second.len(), 1);
        assert!(second.contains(2, &id(2)));
    }

    #[test]
    fn bad_input_changes_nothing() {
        let set = ItemSet::new();
        assert!(set.insert(u64::MAX, id(1)).is_err());
        assert!(set.insert_many(&[1, 2], &[0; 33]).is_err());
        assert!(set.insert_many(&[1, u64::MAX], &[0; 64]).is_err());
        assert_eq!(set.len(), 0);
        set.insert_many(&[5, 4], &[[1; 32], [2; 32]].concat())
            .unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn an_item_repeated_where_batches_meet_counts_once() {
        let batch = |range: core::ops::Range<u64>| {
            let timestamps: Vec<u64> = range.collect();
            let ids: Vec<u8> = timestamps.iter().flat_map(|&t| id(t as u8).0).collect();
            (timestamps, ids)
        };
        let set = ItemSet::new();
        // Each batch is in order and free of repeats by itself: the seal may skip only what
        // holds for all of them together.
        let (timestamps, ids) = batch(0..5000);
        set.insert_many(&timestamps, &ids).unwrap();
        let (timestamps, ids) = batch(4999..10_000);
        set.insert_many(&timestamps, &ids).unwrap();
        set.insert(9999, id(9999u64 as u8)).unwrap();
        let snapshot = set.snapshot();
        assert_eq!(snapshot.len(), 10_000);
        assert!(snapshot.items().windows(2).all(|pair| pair[0] < pair[1]));
        // A batch that goes back below what came before.
        let (timestamps, ids) = batch(20_000..25_000);
        set.insert_many(&timestamps, &ids).unwrap();
        let (timestamps, ids) = batch(15_000..20_001);
        set.insert_many(&timestamps, &ids).unwrap();
        let snapshot = set.snapshot();
        assert_eq!(snapshot.len(), 20_000);
        assert!(snapshot.items().windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn a_large_batch_alone_is_sealed_as_it_was_laid_down() {
        let mut next = crate::test_rng::xorshift64(0x51_7cc1_b727_220a);
        // Few timestamps: long runs of ties, sorted by ID after the copy. Many: short or none.
        // Few IDs: most items repeat, and the seal must still drop them.
        for (spread, few_ids) in [(3u64, false), (40, false), (1 << 30, false), (3, true)] {
            let (timestamps, ids, mut expected) =
                crate::sort::tests::random_batch(6000, spread, false, few_ids, &mut next);
            let set = ItemSet::new();
            set.insert_many(&timestamps, &ids).unwrap();
            expected.dedup();
            let snapshot = set.snapshot();
            assert_eq!(snapshot.items(), expected, "spread {spread}");
            assert!(snapshot.range_index().describes(snapshot.items()));
            assert_eq!(expected.len() < 20, few_ids);
        }
    }

    #[test]
    fn the_index_made_with_a_batch_is_used_only_for_the_batch_as_it_is() {
        use crate::engine::range_index::SAMPLE_EVERY;
        let timestamps: Vec<u64> = (0..5000).map(|i| i * 3).collect();
        let ids: Vec<u8> = (0..5000u64).flat_map(|i| [i as u8; 32]).collect();
        let item = |i: u64| (i * 3, id(i as u8));
        // Each change after the batch makes the index it came with wrong for the snapshot.
        let changes: [&dyn Fn(&ItemSet); 5] = [
            &|set| set.remove(item(10).0, item(10).1),
            &|set| set.insert(1, id(1)).unwrap(),
            // After the batch's last item: still in order, but not what the index covers (as
            // many as fill the index's next sample, so that the samples differ).
            &|set| {
                for byte in 1..=SAMPLE_EVERY as u8 {
                    set.insert(u64::MAX - 1, id(byte)).unwrap();
                }
            },
            &|set| set.extend([Item::new(2, id(2)).unwrap()]).unwrap(),
            &|set| set.insert_many(&[4; 4096], &[5; 4096 * 32]).unwrap(),
        ];
        for (case, change) in changes.iter().enumerate() {
            let set = ItemSet::new();
            set.insert_many(&timestamps, &ids).unwrap();
            change(&set);
            let snapshot = set.snapshot();
            assert!(
                snapshot.range_index().describes(snapshot.items()),
                "case {case}"
            );
        }
        // Into a set that already holds items, the batch is merged and indexed anew.
        let set = ItemSet::new();
        set.insert(7, id(7)).unwrap();
        set.snapshot();
        set.insert_many(&timestamps, &ids).unwrap();
        let snapshot = set.snapshot();
        assert_eq!(snapshot.len(), 5001);
        assert!(snapshot.range_index().describes(snapshot.items()));
    }

    #[test]
    fn large_batches_are_sorted_as_they_enter_and_mix_with_other_inserts() {
        let mut next = crate::test_rng::xorshift64(0x9e37_79b9);
        for spread in [1u64, 5, 1 << 20, 1 << 40] {
            let set = ItemSet::new();
            let mut expected = alloc::collections::BTreeSet::new();
            // A single insert first (the batch must then not count as in order by itself),
            // a removal the batch takes back, and repeats inside the batch.
            set.insert(3, id(9)).unwrap();
            expected.insert(Item {
                timestamp: 3,
                id: id(9),
            });
            let timestamps: Vec<u64> = (0..6000)
                .map(|i| if i % 7 == 0 { 3 } else { next() % spread })
                .collect();
            let mut ids = Vec::new();
            for (i, timestamp) in timestamps.iter().enumerate() {
                let byte = if i % 5 == 0 { 1 } else { next() as u8 };
                let item = Item {
                    timestamp: *timestamp,
                    id: id(byte),
                };
                ids.extend_from_slice(&item.id.0);
                expected.insert(item);
            }
            set.remove(timestamps[10], id(ids[10 * 32]));
            set.insert_many(&timestamps, &ids).unwrap();
            let sealed: Vec<Item> = set.snapshot().items().to_vec();
            assert_eq!(
                sealed,
                expected.iter().copied().collect::<Vec<_>>(),
                "spread {spread}"
            );
            // A second, later batch after the seal merges with it.
            set.insert_many(&[u64::MAX - 1], &[7; 32]).unwrap();
            assert_eq!(set.len(), expected.len() + 1);
        }
    }
}
