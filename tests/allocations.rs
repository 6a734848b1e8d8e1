//! After its first round a session allocates only when a buffer it keeps must grow: never per
//! message, per range or per item. Counted with a counting global allocator over a long radio
//! exchange (hundreds of round trips) and an unlimited one.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Rng, random_pair, set_of};
use negsync::Session;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (round trips, allocations in the first round trip, allocations in all the later ones).
fn count(shared: usize, only_a: usize, only_b: usize, limit: u64) -> (u64, u64, u64) {
    let mut rng = Rng::new(0xa110c);
    let (a, b) = random_pair(&mut rng, shared, only_a, only_b, 1 << 30);
    let (a, b) = (set_of(&a).snapshot(), set_of(&b).snapshot());
    let mut initiator = Session::new(a, limit).unwrap();
    let mut responder = Session::new(b, limit).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut message = initiator.initiate_lent().unwrap().to_vec();
    let (mut rounds, mut first_round) = (0, 0);
    loop {
        rounds += 1;
        let reply = responder.reconcile_lent(&message).unwrap().reply.unwrap();
        let step = initiator.reconcile_lent(reply).unwrap();
        let Some(next) = step.reply else { break };
        // The driver's own copy (a transport would send it) reuses its buffer.
        message.clear();
        message.extend_from_slice(next);
        if rounds == 1 {
            first_round = ALLOCATIONS.load(Ordering::Relaxed) - before;
        }
    }
    let total = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(initiator.have_ids().unwrap().len(), only_a);
    assert_eq!(initiator.need_ids().unwrap().len(), only_b);
    (rounds, first_round, total - first_round)
}

#[test]
fn later_rounds_allocate_only_to_grow_kept_buffers() {
    for (shared, only_a, only_b, limit) in [
        (10_000, 10, 10, 200),
        (10_000, 100, 100, 128),
        (10_000, 300, 300, 1024),
        (10_000, 300, 300, 4096),
        (10_000, 300, 300, 0),
    ] {
        let (rounds, first, later) = count(shared, only_a, only_b, limit);
        eprintln!(
            "{shared} shared, {only_a}/{only_b} apart, limit {limit}: {rounds} round trips, \
             {first} allocations in the first, {later} in all later ones"
        );
        // Kept buffers grow by doubling: the reply buffers, the scratch of ID matching and the
        // have/need lists (a vector and a hash set each) reach their size in a few dozen steps,
        // however many rounds the exchange takes.
        assert!(
            later <= 64,
            "{later} allocations over {rounds} round trips at limit {limit}"
        );
        if limit != 0 && limit < 4096 {
            // Long exchanges: fewer allocations than round trips means none per round.
            assert!(
                later < rounds,
                "{later} allocations over {rounds} round trips"
            );
        }
    }
}
