//! negsync's engine against the oracle, the `negentropy` crate 0.5.3, on arbitrary sets, frame
//! limits and messages:
//! - where the crate works (limit 0 or at least 4096 on both sides), both run in lockstep and
//!   every message must be the crate's byte for byte, with the same have/need after each round;
//! - with a radio limit (128..4095) on either side, the initiator must learn exactly the true
//!   differences and every message must fit its sender's limit;
//! - any message the strict decoder accepts must get the crate's reply from a responder.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use negentropy::{Negentropy, NegentropyStorageVector};
use negsync::{Id, Item, ItemSet, Session};

#[derive(Arbitrary, Debug)]
struct Case {
    shared: Vec<(u8, [u8; 2])>,
    only_initiator: Vec<(u8, [u8; 2])>,
    only_responder: Vec<(u8, [u8; 2])>,
    initiator_limit: Limit,
    responder_limit: Limit,
    /// Multiplies every item so that frame limits are actually reached.
    copies: u8,
    /// Fed to a fresh responder over the responder's set, when it is a valid V1 message.
    message: Vec<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Limit {
    None,
    Crate(u16),
    Radio(u16),
}

impl Limit {
    fn bytes(self) -> u64 {
        match self {
            Limit::None => 0,
            Limit::Crate(extra) => 4096 + u64::from(extra % 8192),
            Limit::Radio(size) => 128 + u64::from(size % (4096 - 128)),
        }
    }
}

/// At most this many raw items a side, each at most four times: sets of up to 2,048 items keep
/// radio exchanges (hundreds of rounds at 128 bytes) quick enough to run millions of cases.
const MAX_RAW_ITEMS: usize = 512;

fn items(raw: &[(u8, [u8; 2])], copies: u8, salt: u8) -> BTreeSet<Item> {
    let mut items = BTreeSet::new();
    for &(timestamp, tag) in raw.iter().take(MAX_RAW_ITEMS) {
        for copy in 0..=copies % 4 {
            let mut id = [0u8; 32];
            id[0] = tag[0];
            id[1] = tag[1];
            id[2] = copy;
            id[3] = salt;
            // An ID appears at one timestamp only (ID lists are matched by ID).
            id[4] = timestamp;
            items.insert(Item {
                timestamp: u64::from(timestamp),
                id: Id(id),
            });
        }
    }
    items
}

fn ours(items: &BTreeSet<Item>, limit: u64) -> Session {
    let set = ItemSet::new();
    set.extend(items.iter().copied()).unwrap();
    Session::new(set.snapshot(), limit).unwrap()
}

fn oracle(items: &BTreeSet<Item>, limit: u64) -> Negentropy<'static, NegentropyStorageVector> {
    let mut storage = NegentropyStorageVector::new();
    for item in items {
        storage
            .insert(item.timestamp, negentropy::Id::from_byte_array(item.id.0))
            .unwrap();
    }
    storage.seal().unwrap();
    Negentropy::owned(storage, limit).unwrap()
}

fn add_round(list: &mut Vec<Id>, round: Vec<negentropy::Id>) {
    let mut round: Vec<Id> = round.into_iter().map(|id| Id(id.to_bytes())).collect();
    round.sort_unstable();
    for id in round {
        if !list.contains(&id) {
            list.push(id);
        }
    }
}

fuzz_target!(|case: Case| {
    let shared = items(&case.shared, case.copies, 0);
    let mut a = shared.clone();
    a.extend(items(&case.only_initiator, case.copies, 1));
    let mut b = shared;
    b.extend(items(&case.only_responder, case.copies, 2));
    let (limit_a, limit_b) = (case.initiator_limit.bytes(), case.responder_limit.bytes());
    let crate_framing = |limit: u64| limit == 0 || limit >= 4096;
    let lockstep = crate_framing(limit_a) && crate_framing(limit_b);

    let mut initiator = ours(&a, limit_a);
    let mut responder = ours(&b, limit_b);
    let mut oracles = lockstep.then(|| (oracle(&a, limit_a), oracle(&b, limit_b)));
    let (mut crate_have, mut crate_need) = (Vec::new(), Vec::new());
    let mut message = initiator.initiate().unwrap();
    if let Some((oracle_i, _)) = &mut oracles {
        assert_eq!(message, oracle_i.initiate().unwrap(), "first message");
    }
    let mut finished = false;
    for _ in 0..5000 {
        assert!(limit_a == 0 || message.len() as u64 <= limit_a);
        let reply = responder.reconcile(&message).unwrap().reply.unwrap();
        assert!(limit_b == 0 || reply.len() as u64 <= limit_b);
        let step = initiator.reconcile(&reply).unwrap();
        if let Some((oracle_i, oracle_r)) = &mut oracles {
            assert_eq!(reply, oracle_r.reconcile(&message).unwrap(), "reply");
            let (mut have, mut need) = (Vec::new(), Vec::new());
            let next = oracle_i.reconcile_with_ids(&reply, &mut have, &mut need).unwrap();
            assert_eq!(step.reply, next, "initiator message");
            add_round(&mut crate_have, have);
            add_round(&mut crate_need, need);
            assert_eq!(initiator.have_ids().unwrap(), crate_have);
            assert_eq!(initiator.need_ids().unwrap(), crate_need);
        }
        match step.reply {
            Some(next) => message = next,
            None => {
                finished = true;
                break;
            }
        }
    }
    assert!(finished && initiator.is_complete(), "did not finish in 5000 rounds");
    let ids_of = |items: Vec<&Item>| items.into_iter().map(|item| item.id).collect::<BTreeSet<Id>>();
    let have: Vec<Id> = initiator.have_ids().unwrap().to_vec();
    let need: Vec<Id> = initiator.need_ids().unwrap().to_vec();
    assert_eq!(have.iter().copied().collect::<BTreeSet<_>>().len(), have.len());
    assert_eq!(need.iter().copied().collect::<BTreeSet<_>>().len(), need.len());
    assert_eq!(have.into_iter().collect::<BTreeSet<_>>(), ids_of(a.difference(&b).collect()));
    assert_eq!(need.into_iter().collect::<BTreeSet<_>>(), ids_of(b.difference(&a).collect()));

    if negsync::wire::validate(&case.message).is_ok() && crate_framing(limit_b) {
        let reply = ours(&b, limit_b).reconcile(&case.message).unwrap().reply.unwrap();
        let expected = oracle(&b, limit_b).reconcile(&case.message).unwrap();
        assert_eq!(reply, expected, "responder on a valid message");
    }
});
