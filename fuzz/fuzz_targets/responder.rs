//! A responder fed a sequence of arbitrary messages: no panic, no internal error, and once a
//! message fails it the session refuses everything after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use negsync::{Error, Id, ItemSet, Limits, Session, State};

#[path = "shared/frame_limit.rs"]
mod shared;
use shared::frame_limit;

fuzz_target!(|input: (u8, u16, Vec<Vec<u8>>)| {
    let (items, limit_choice, messages) = input;
    let set = ItemSet::new();
    for t in 0..u64::from(items) {
        let mut id = [0u8; 32];
        id[0] = (t * 37) as u8;
        id[1] = t as u8;
        set.insert(t / 3, Id(id)).unwrap();
    }
    let limits = Limits {
        max_rounds: 8,
        ..Limits::DEFAULT
    };
    let frame_limit = frame_limit(limit_choice);
    let mut responder = Session::with_limits(set.snapshot(), frame_limit, limits).unwrap();
    for message in &messages {
        let was_running = *responder.state() == State::Running;
        match responder.reconcile(message) {
            Ok(step) => {
                assert!(was_running);
                let reply = step.reply.expect("a responder always answers");
                assert!(frame_limit == 0 || reply.len() as u64 <= frame_limit);
            }
            Err(Error::WrongState(_)) => assert!(!was_running),
            Err(Error::Internal(what)) => panic!("internal error: {what}"),
            Err(_) => assert!(matches!(responder.state(), State::Failed(_))),
        }
    }
});
