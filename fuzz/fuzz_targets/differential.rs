//! For two arbitrary sets and frame limits, the initiator learns exactly the true differences.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use negsync::{Id, Item, ItemSet, Session};

#[derive(Arbitrary, Debug)]
struct Case {
    shared: Vec<(u8, [u8; 2])>,
    only_initiator: Vec<(u8, [u8; 2])>,
    only_responder: Vec<(u8, [u8; 2])>,
    initiator_limited: bool,
    responder_limited: bool,
    /// Multiplies every item so that frame limits are actually reached.
    copies: u8,
}

fn items(raw: &[(u8, [u8; 2])], copies: u8, salt: u8) -> BTreeSet<Item> {
    let mut items = BTreeSet::new();
    for &(timestamp, tag) in raw {
        for copy in 0..=copies % 8 {
            let mut id = [0u8; 32];
            id[0] = tag[0];
            id[1] = tag[1];
            id[2] = copy;
            id[3] = salt;
            // An ID appears at one timestamp only (a precondition of the protocol: the engine
            // matches ID lists by ID, so a second copy at another timestamp reads as unmatched).
            id[4] = timestamp;
            items.insert(Item {
                timestamp: u64::from(timestamp),
                id: Id(id),
            });
        }
    }
    items
}

fn sealed(items: &BTreeSet<Item>) -> negsync::Snapshot {
    let set = ItemSet::new();
    set.extend(items.iter().copied()).unwrap();
    set.snapshot()
}

fuzz_target!(|case: Case| {
    let shared = items(&case.shared, case.copies, 0);
    let mut a = shared.clone();
    a.extend(items(&case.only_initiator, case.copies, 1));
    let mut b = shared;
    b.extend(items(&case.only_responder, case.copies, 2));
    let limit = |limited: bool| if limited { 4096 } else { 0 };
    let mut initiator = Session::new(sealed(&a), limit(case.initiator_limited)).unwrap();
    let mut responder = Session::new(sealed(&b), limit(case.responder_limited)).unwrap();
    let mut message = initiator.initiate().unwrap();
    for _ in 0..1000 {
        let reply = responder.reconcile(&message).unwrap().reply.unwrap();
        match initiator.reconcile(&reply).unwrap().reply {
            Some(next) => message = next,
            None => break,
        }
    }
    assert!(initiator.is_complete(), "did not finish in 1000 rounds");
    let ids_of = |items: Vec<&Item>| items.into_iter().map(|item| item.id).collect::<BTreeSet<Id>>();
    let only_a = ids_of(a.difference(&b).collect());
    let only_b = ids_of(b.difference(&a).collect());
    let have: Vec<Id> = initiator.have_ids().unwrap().to_vec();
    let need: Vec<Id> = initiator.need_ids().unwrap().to_vec();
    assert_eq!(have.iter().copied().collect::<BTreeSet<_>>().len(), have.len());
    assert_eq!(need.iter().copied().collect::<BTreeSet<_>>().len(), need.len());
    assert_eq!(have.into_iter().collect::<BTreeSet<_>>(), only_a);
    assert_eq!(need.into_iter().collect::<BTreeSet<_>>(), only_b);
});
