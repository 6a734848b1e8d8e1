//! Message validation on arbitrary bytes: never panics, and whatever it accepts the engine must
//! process without complaint (a validated message that the engine rejects would be an Internal
//! error, i.e. a gap in the validator).
#![no_main]

use libfuzzer_sys::fuzz_target;
use negsync::{Error, Id, ItemSet, Session, wire};

fuzz_target!(|message: &[u8]| {
    let verdict = wire::validate(message);
    if let Ok(summary) = verdict {
        assert!(summary.ids * 32 < message.len());
    }
    let set = ItemSet::new();
    for t in 0..40u64 {
        set.insert(t * 3, Id([t as u8; 32])).unwrap();
    }
    let mut responder = Session::new(set.snapshot(), 0).unwrap();
    match responder.reconcile(message) {
        Ok(step) => {
            let reply = step.reply.expect("a responder always answers");
            if wire::version(message) == Ok(0x61) {
                assert!(verdict.is_ok(), "a rejected message was answered");
                wire::validate(&reply).expect("our own reply is valid");
            } else {
                assert_eq!(reply, [0x61]);
            }
        }
        Err(Error::MalformedMessage(_)) => assert!(verdict.is_err()),
        Err(other) => panic!("unexpected error on a peer message: {other:?}"),
    }
});
