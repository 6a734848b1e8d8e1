//! Properties of the core over arbitrary inputs (proptest shrinks any counterexample).

mod common;

use std::collections::BTreeSet;

use common::{assert_exactly, difference, run_exchange};
use negsync::{Id, Item, ItemSet};
use proptest::prelude::*;

/// Items with few distinct timestamps and IDs drawn from a small pool, so that overlaps,
/// duplicates and shared timestamps are common rather than rare.
fn items(max: usize) -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec((0u64..40, 0u8..=255, any::<[u8; 4]>()), 0..max).prop_map(|raw| {
        raw.into_iter()
            .map(|(timestamp, first, rest)| {
                let mut id = [0u8; 32];
                id[0] = first;
                id[1..5].copy_from_slice(&rest);
                Item {
                    timestamp,
                    id: Id(id),
                }
            })
            .collect()
    })
}

fn limit() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(4096u64),
        Just(60_000u64),
        128u64..4096,
        Just(128u64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reconciliation_gives_the_exact_difference(
        shared in items(600), only_a in items(300), only_b in items(300),
        limit_a in limit(), limit_b in limit(),
    ) {
        let a: BTreeSet<Item> = shared.iter().chain(&only_a).copied().collect();
        let b: BTreeSet<Item> = shared.iter().chain(&only_b).copied().collect();
        let set_a = ItemSet::new();
        set_a.extend(a.iter().copied()).unwrap();
        let set_b = ItemSet::new();
        set_b.extend(b.iter().copied()).unwrap();
        let exchange = run_exchange(set_a.snapshot(), set_b.snapshot(), limit_a, limit_b);
        prop_assert!(limit_a == 0 || exchange.largest_from_initiator as u64 <= limit_a);
        prop_assert!(limit_b == 0 || exchange.largest_from_responder as u64 <= limit_b);
        assert_exactly(&exchange.have, &difference(&a, &b), "have");
        assert_exactly(&exchange.need, &difference(&b, &a), "need");
    }

    #[test]
    fn the_sealed_set_ignores_insertion_order_and_duplicates(
        items in items(400), seed in any::<u64>(),
    ) {
        let forward = ItemSet::new();
        forward.extend(items.iter().copied()).unwrap();
        let mut shuffled = items.clone();
        shuffled.extend(items.iter().step_by(3).copied());
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let other = ItemSet::new();
        for item in &shuffled {
            other.insert(item.timestamp, item.id).unwrap();
        }
        let expected: Vec<Item> = items.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        let (forward, other) = (forward.snapshot(), other.snapshot());
        prop_assert_eq!(forward.items(), &expected[..]);
        prop_assert_eq!(other.items(), &expected[..]);
    }

    #[test]
    fn a_snapshot_never_changes_after_it_is_taken(
        before in items(300), inserted in items(100), removed_every in 1usize..5,
    ) {
        let set = ItemSet::new();
        set.extend(before.iter().copied()).unwrap();
        let snapshot = set.snapshot();
        let frozen: Vec<Item> = snapshot.items().to_vec();
        set.extend(inserted.iter().copied()).unwrap();
        for item in before.iter().step_by(removed_every) {
            set.remove(item.timestamp, item.id);
        }
        let _later = set.snapshot();
        prop_assert_eq!(snapshot.items(), &frozen[..]);
    }
}
