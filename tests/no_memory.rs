//! Running out of memory inside a session is an error, not an abort: a session sizes the buffers
//! it keeps from its frame limit with `try_reserve` when its role is decided, so an allocator that
//! refuses them makes the call fail with `Error::OutOfMemory` (`NEGSYNC_NO_MEMORY` in C). The
//! firmware run checks the same on every board (bindings/c/firmware/main.c).
//!
//! One test in this binary: the allocator below is global, and refuses only while armed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use negsync::{Error, ItemSet, Session, State, id_for_key};

/// Refuses every request of at least this many bytes (0: none refused).
static REFUSE_FROM: AtomicUsize = AtomicUsize::new(0);

struct Refusing;

impl Refusing {
    fn refuses(size: usize) -> bool {
        let from = REFUSE_FROM.load(Ordering::Relaxed);
        from != 0 && size >= from
    }
}

unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::refuses(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::refuses(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Refusing = Refusing;

#[test]
fn a_refused_session_buffer_fails_the_call_with_out_of_memory() {
    let set = ItemSet::new();
    for n in 0..100u64 {
        set.insert(n, id_for_key(&n.to_le_bytes())).unwrap();
    }
    let snapshot = set.snapshot();
    let mut initiator = Session::new(snapshot.clone(), 1024).unwrap();
    let mut responder = Session::new(snapshot.clone(), 1024).unwrap();
    let mut healthy = Session::new(snapshot, 1024).unwrap();
    let first = healthy.initiate().unwrap();

    // The message buffer (the limit and its slack) is the largest block a session reserves.
    REFUSE_FROM.store(1024, Ordering::Relaxed);
    let initiated = initiator.initiate();
    let answered = responder.reconcile(&first);
    REFUSE_FROM.store(0, Ordering::Relaxed);

    assert_eq!(initiated, Err(Error::OutOfMemory));
    assert_eq!(initiator.state(), &State::Failed(Error::OutOfMemory));
    assert_eq!(answered, Err(Error::OutOfMemory));
    assert_eq!(responder.state(), &State::Failed(Error::OutOfMemory));
    // A failed session refuses further calls; the set and other sessions are untouched.
    assert!(matches!(initiator.initiate(), Err(Error::WrongState(_))));
    let reply = Session::new(healthy.snapshot().clone(), 1024)
        .unwrap()
        .reconcile(&first)
        .unwrap();
    assert!(reply.reply.is_some());
}
