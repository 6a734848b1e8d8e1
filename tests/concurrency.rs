//! Eight threads run 1,000 sessions each, all created from one shared set while another thread
//! keeps inserting into and removing from it. Every session must find exactly the difference
//! between its own snapshot and its peer's, whatever the set looked like a moment later.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{Rng, assert_exactly, run_exchange};
use negsync::{Id, Item, ItemSet, Snapshot};

const WORKERS: usize = 8;
const SESSIONS_PER_WORKER: usize = 1_000;

fn ids_of(snapshot: &Snapshot) -> BTreeSet<Id> {
    snapshot.items().iter().map(|item| item.id).collect()
}

#[test]
fn sessions_from_one_set_under_concurrent_mutation_each_see_their_own_snapshot() {
    let shared = Arc::new(ItemSet::new());
    let mut rng = Rng::new(0xC0FFEE);
    let base: Vec<Item> = (0..400)
        .map(|_| Item {
            timestamp: rng.below(1_000),
            id: rng.id(),
        })
        .collect();
    shared.extend(base.iter().copied()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mutator = {
        let (shared, stop, base) = (Arc::clone(&shared), Arc::clone(&stop), base.clone());
        thread::spawn(move || {
            let mut rng = Rng::new(1);
            let mut changes = 0u64;
            // Items this thread added, oldest first: removed again so the set stays near its size.
            let mut added = std::collections::VecDeque::new();
            while !stop.load(Ordering::Relaxed) {
                let item = Item {
                    timestamp: rng.below(1_000),
                    id: rng.id(),
                };
                shared.insert(item.timestamp, item.id).unwrap();
                added.push_back(item);
                if added.len() > 50 {
                    let oldest: Item = added.pop_front().expect("not empty");
                    shared.remove(oldest.timestamp, oldest.id);
                }
                let victim = base[rng.below(base.len() as u64) as usize];
                shared.remove(victim.timestamp, victim.id);
                if changes % 3 == 0 {
                    shared.insert(victim.timestamp, victim.id).unwrap();
                }
                changes += 1;
            }
            changes
        })
    };

    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let shared = Arc::clone(&shared);
            let base = base.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(100 + worker as u64);
                // The peer: most of the base set plus a few items of its own.
                let peer = ItemSet::new();
                peer.extend(base.iter().copied().filter(|_| rng.below(10) != 0))
                    .unwrap();
                for _ in 0..20 {
                    peer.insert(rng.below(1_000), rng.id()).unwrap();
                }
                let peer = peer.snapshot();
                let peer_ids = ids_of(&peer);
                let limits = [0, 4096];
                for round in 0..SESSIONS_PER_WORKER {
                    let ours = shared.snapshot();
                    let our_ids = ids_of(&ours);
                    let limit = limits[round % 2];
                    let exchange = run_exchange(ours, peer.clone(), limit, limit);
                    let have: BTreeSet<Id> = our_ids.difference(&peer_ids).copied().collect();
                    let need: BTreeSet<Id> = peer_ids.difference(&our_ids).copied().collect();
                    assert_exactly(&exchange.have, &have, "have");
                    assert_exactly(&exchange.need, &need, "need");
                }
            })
        })
        .collect();

    for worker in workers {
        worker.join().expect("a worker failed");
    }
    stop.store(true, Ordering::Relaxed);
    let changes = mutator.join().expect("the mutator failed");
    assert!(changes > 0, "the set was never changed while sessions ran");
}
