//! Helpers shared by the integration tests: a seeded generator, set builders, the true set
//! difference, and a driver that runs a whole exchange between two sessions.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeSet;

use negsync::{Id, Item, ItemSet, Session, Snapshot};

mod splitmix64;

/// The seeded generator tests draw their data from.
pub use splitmix64::SplitMix64 as Rng;

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn id(&mut self) -> Id {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        Id(bytes)
    }
}

/// Two overlapping sets: `shared` items on both sides, then `only_a` and `only_b` on one side
/// each; timestamps drawn from `0..timestamp_range` (a small range makes many items share one).
pub fn random_pair(
    rng: &mut Rng,
    shared: usize,
    only_a: usize,
    only_b: usize,
    timestamp_range: u64,
) -> (BTreeSet<Item>, BTreeSet<Item>) {
    let item = |rng: &mut Rng| Item {
        timestamp: rng.below(timestamp_range),
        id: rng.id(),
    };
    let shared: Vec<Item> = (0..shared).map(|_| item(rng)).collect();
    let mut a: BTreeSet<Item> = shared.iter().copied().collect();
    let mut b = a.clone();
    a.extend((0..only_a).map(|_| item(rng)));
    b.extend((0..only_b).map(|_| item(rng)));
    (a, b)
}

pub fn set_of(items: &BTreeSet<Item>) -> ItemSet {
    let set = ItemSet::new();
    set.extend(items.iter().copied()).expect("valid items");
    set
}

/// IDs in `a` and not in `b`: what the initiator holding `a` must report as "have".
pub fn difference(a: &BTreeSet<Item>, b: &BTreeSet<Item>) -> BTreeSet<Id> {
    a.difference(b).map(|item| item.id).collect()
}

/// What one whole exchange produced, seen from the outside.
#[derive(Debug)]
pub struct Exchange {
    pub have: Vec<Id>,
    pub need: Vec<Id>,
    /// Messages the responder received (= round trips).
    pub rounds: u64,
    pub bytes_to_responder: u64,
    pub bytes_to_initiator: u64,
    pub largest_from_initiator: usize,
    pub largest_from_responder: usize,
    pub responder_complete: bool,
    /// Every message, in order, initiator first.
    pub transcript: Vec<Vec<u8>>,
}

/// Runs the exchange until the initiator finishes, checking the protocol's promises on the way:
/// a responder that reported complete is never sent another message.
pub fn run_exchange(
    initiator_snapshot: Snapshot,
    responder_snapshot: Snapshot,
    initiator_limit: u64,
    responder_limit: u64,
) -> Exchange {
    let mut initiator = Session::new(initiator_snapshot, initiator_limit).expect("initiator");
    let mut responder = Session::new(responder_snapshot, responder_limit).expect("responder");
    let mut message = initiator.initiate().expect("initiate");
    let mut exchange = Exchange {
        have: Vec::new(),
        need: Vec::new(),
        rounds: 0,
        bytes_to_responder: 0,
        bytes_to_initiator: 0,
        largest_from_initiator: 0,
        largest_from_responder: 0,
        responder_complete: false,
        transcript: Vec::new(),
    };
    loop {
        assert!(
            !exchange.responder_complete,
            "the responder said its last reply was final, yet the initiator went on"
        );
        assert!(exchange.rounds < 10_000, "the exchange does not end");
        exchange.rounds += 1;
        exchange.bytes_to_responder += message.len() as u64;
        exchange.largest_from_initiator = exchange.largest_from_initiator.max(message.len());
        let step = responder.reconcile(&message).expect("responder reconcile");
        exchange.transcript.push(message);
        let reply = step.reply.expect("a responder always replies");
        exchange.responder_complete = step.complete;
        assert_eq!(step.complete, responder.is_complete());
        exchange.bytes_to_initiator += reply.len() as u64;
        exchange.largest_from_responder = exchange.largest_from_responder.max(reply.len());
        let step = initiator.reconcile(&reply).expect("initiator reconcile");
        exchange.transcript.push(reply);
        assert_eq!(step.complete, step.reply.is_none());
        match step.reply {
            Some(next) => message = next,
            None => break,
        }
    }
    assert!(initiator.is_complete());
    exchange.have = initiator.have_ids().expect("initiator").to_vec();
    exchange.need = initiator.need_ids().expect("initiator").to_vec();
    exchange
}

/// Asserts that a list holds each ID once and exactly the expected IDs.
pub fn assert_exactly(found: &[Id], expected: &BTreeSet<Id>, what: &str) {
    let unique: BTreeSet<Id> = found.iter().copied().collect();
    assert_eq!(
        unique.len(),
        found.len(),
        "{what}: an ID was reported twice"
    );
    assert_eq!(&unique, expected, "{what}: not the exact difference");
}
