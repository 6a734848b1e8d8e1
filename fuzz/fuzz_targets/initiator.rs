//! An initiator fed arbitrary replies after `initiate`: it never completes on a reply the validator
//! rejects, never fails internally, "have" holds only IDs we hold, and "need" only IDs the peer
//! sent. (A peer may claim, in one range, an ID we hold at a timestamp outside it: that is a need
//! by the protocol's rules, so "need" may hold an ID we hold; an application checks before it
//! fetches.)
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use negsync::{Error, Id, ItemSet, Session, State, wire};

#[path = "shared/frame_limit.rs"]
mod shared;
use shared::frame_limit;

fuzz_target!(|input: (u8, u16, Vec<Vec<u8>>)| {
    let (items, limit_choice, replies) = input;
    let set = ItemSet::new();
    let mut ours = BTreeSet::new();
    for t in 0..u64::from(items) {
        let id = Id([t as u8; 32]);
        ours.insert(id);
        set.insert(t * 5, id).unwrap();
    }
    let frame_limit = frame_limit(limit_choice);
    let mut initiator = Session::new(set.snapshot(), frame_limit).unwrap();
    initiator.initiate().unwrap();
    for reply in &replies {
        let was_running = *initiator.state() == State::Running;
        match initiator.reconcile(reply) {
            Ok(step) => {
                assert!(was_running);
                wire::validate(reply).expect("only a valid reply is processed");
                assert_eq!(step.complete, step.reply.is_none());
                if let Some(next) = &step.reply {
                    assert!(frame_limit == 0 || next.len() as u64 <= frame_limit);
                }
            }
            Err(Error::WrongState(_)) => assert!(!was_running),
            Err(Error::Internal(what)) => panic!("internal error: {what}"),
            Err(_) => assert!(!initiator.is_complete()),
        }
    }
    for id in initiator.have_ids().unwrap() {
        assert!(ours.contains(id), "reported as ours an ID we never held");
    }
    for id in initiator.need_ids().unwrap() {
        let sent = replies
            .iter()
            .any(|reply| reply.windows(32).any(|window| window == id.0));
        assert!(sent, "reported as needed an ID the peer never sent");
    }
});
