//! The session's rules at its edges: state errors, version negotiation, malformed input, limits.

mod common;

use common::{Rng, random_pair, set_of};
use negsync::wire::MalformedKind;
use negsync::{Error, Id, ItemSet, Limit, Limits, Role, Session, State};

fn session_over(items: u64) -> Session {
    let set = ItemSet::new();
    for t in 0..items {
        set.insert(t, Id([t as u8; 32])).unwrap();
    }
    Session::new(set.snapshot(), 0).unwrap()
}

fn malformed_kind(result: Result<negsync::Step, Error>) -> MalformedKind {
    match result {
        Err(Error::MalformedMessage(malformed)) => malformed.kind,
        other => panic!("expected a malformed-message error, got {other:?}"),
    }
}

#[test]
fn frame_limits_below_128_are_refused() {
    assert_eq!(negsync::MIN_FRAME_SIZE_LIMIT, 128);
    for bad in [1, 100, 127] {
        assert!(matches!(
            Session::new(ItemSet::new().snapshot(), bad),
            Err(Error::InvalidArgument(_))
        ));
    }
    for good in [0, 128, 200, 4095, 4096, u64::MAX] {
        assert!(Session::new(ItemSet::new().snapshot(), good).is_ok());
    }
}

#[test]
fn initiate_twice_or_after_responding_is_a_state_error() {
    let mut initiator = session_over(3);
    let first = initiator.initiate().unwrap();
    assert!(matches!(initiator.initiate(), Err(Error::WrongState(_))));
    let mut responder = session_over(3);
    responder.reconcile(&first).unwrap();
    assert_eq!(responder.role(), Role::Responder);
    assert!(matches!(responder.initiate(), Err(Error::WrongState(_))));
    assert!(matches!(responder.have_ids(), Err(Error::WrongState(_))));
    assert!(matches!(responder.forget_ids(), Err(Error::WrongState(_))));
    assert!(matches!(
        session_over(1).need_ids(),
        Err(Error::WrongState(_))
    ));
    assert!(matches!(
        session_over(1).forget_ids(),
        Err(Error::WrongState(_))
    ));
}

#[test]
fn reconcile_after_completion_is_a_state_error_that_changes_nothing() {
    let mut initiator = session_over(5);
    let mut responder = session_over(5);
    let reply = responder.reconcile(&initiator.initiate().unwrap()).unwrap();
    assert!(reply.complete, "identical sets end after one round trip");
    let done = initiator.reconcile(&reply.reply.unwrap()).unwrap();
    assert!(done.complete && done.reply.is_none());
    assert!(matches!(
        initiator.reconcile(&[0x61]),
        Err(Error::WrongState(_))
    ));
    assert_eq!(initiator.state(), &State::Complete);
    assert!(matches!(
        responder.reconcile(&[0x61]),
        Err(Error::WrongState(_))
    ));
}

#[test]
fn a_responder_answers_another_version_with_0x61_and_stays_ready() {
    let mut initiator = session_over(40);
    let first = initiator.initiate().unwrap();
    let mut responder = session_over(40);
    for other in [
        &[0x62u8, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff][..],
        &[0x60],
        &[0x6f],
    ] {
        let step = responder.reconcile(other).unwrap();
        assert_eq!(step.reply.as_deref(), Some(&[0x61u8][..]));
        assert!(!step.complete);
        assert!(!responder.is_complete());
    }
    let step = responder.reconcile(&first).unwrap();
    assert!(step.complete);
    let fresh = session_over(40).reconcile(&first).unwrap();
    assert_eq!(step.reply, fresh.reply, "the earlier answers left no trace");
}

#[test]
fn an_initiator_fails_on_another_version() {
    let mut initiator = session_over(3);
    initiator.initiate().unwrap();
    assert_eq!(
        initiator.reconcile(&[0x62]),
        Err(Error::UnsupportedVersion(0x62))
    );
    assert!(matches!(initiator.state(), State::Failed(_)));
    assert!(matches!(
        initiator.reconcile(&[0x61]),
        Err(Error::WrongState(_))
    ));
}

#[test]
fn malformed_messages_fail_the_session_in_both_roles() {
    let corpus: [(&[u8], MalformedKind); 6] = [
        (&[], MalformedKind::Empty),
        (&[0x70], MalformedKind::NotNegentropy(0x70)),
        (&[0x61, 0x80], MalformedKind::TruncatedVarint),
        (&[0x61, 0x00], MalformedKind::TruncatedVarint),
        (&[0x61, 0x00, 0x00], MalformedKind::TruncatedVarint),
        (&[0x61, 0x00, 0x00, 0x03], MalformedKind::UnknownMode(3)),
    ];
    for (message, kind) in corpus {
        let mut responder = session_over(3);
        assert_eq!(malformed_kind(responder.reconcile(message)), kind);
        assert!(matches!(
            responder.reconcile(&[0x61]),
            Err(Error::WrongState(_))
        ));

        let mut initiator = session_over(3);
        initiator.initiate().unwrap();
        assert_eq!(malformed_kind(initiator.reconcile(message)), kind);
        assert!(
            !initiator.is_complete(),
            "a malformed reply never completes a sync"
        );
        assert!(matches!(
            initiator.reconcile(&[0x61]),
            Err(Error::WrongState(_))
        ));
    }
}

#[test]
fn limits_stop_a_peer_and_leave_the_set_untouched() {
    let mut rng = Rng::new(3);
    let (a, b) = random_pair(&mut rng, 2000, 500, 500, 1 << 30);
    let (set_a, set_b) = (set_of(&a), set_of(&b));

    // A message larger than max_message_size.
    let mut initiator = Session::new(set_a.snapshot(), 0).unwrap();
    let small = Limits {
        max_message_size: 8,
        ..Limits::DEFAULT
    };
    let mut responder = Session::with_limits(set_b.snapshot(), 0, small).unwrap();
    let first = initiator.initiate().unwrap();
    assert_eq!(
        responder.reconcile(&first),
        Err(Error::LimitExceeded(Limit::MessageSize))
    );
    assert!(matches!(
        responder.reconcile(&[0x61]),
        Err(Error::WrongState(_))
    ));

    // More rounds than max_rounds (this pair needs at least two).
    let mut initiator = Session::new(set_a.snapshot(), 4096).unwrap();
    initiator.set_limits(Limits {
        max_rounds: 1,
        ..Limits::DEFAULT
    });
    let mut responder = Session::new(set_b.snapshot(), 4096).unwrap();
    let mut message = initiator.initiate().unwrap();
    let mut outcome = Ok(());
    for _ in 0..3 {
        let reply = responder.reconcile(&message).unwrap().reply.unwrap();
        match initiator.reconcile(&reply) {
            Ok(step) => message = step.reply.expect("needs more than one round"),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    assert_eq!(outcome, Err(Error::LimitExceeded(Limit::Rounds)));

    // Have/need lists larger than max_id_bytes (1000 differences = 32,000 bytes).
    let mut initiator = Session::with_limits(
        set_a.snapshot(),
        0,
        Limits {
            max_id_bytes: 10_000,
            ..Limits::DEFAULT
        },
    )
    .unwrap();
    let mut responder = Session::new(set_b.snapshot(), 0).unwrap();
    let mut message = initiator.initiate().unwrap();
    let error = loop {
        let reply = responder.reconcile(&message).unwrap().reply.unwrap();
        match initiator.reconcile(&reply) {
            Ok(step) => message = step.reply.expect("cannot finish under the limit"),
            Err(error) => break error,
        }
    };
    assert_eq!(error, Error::LimitExceeded(Limit::IdBytes));
    assert!(initiator.have_ids().unwrap().len() * 32 <= 10_000);

    assert_eq!(set_a.len(), a.len());
    assert_eq!(set_b.len(), b.len());
}

/// Fuzzer finding: an ID list up to infinity *with a prefix*, answered by a responder whose reply
/// gets frame-cut, made the engine write a decreasing bound (its closing range is plain infinity)
/// and the session fail with an internal error. Such a bound is now refused as malformed.
#[test]
fn an_id_list_up_to_infinity_with_a_prefix_is_malformed_not_an_internal_error() {
    let set = ItemSet::new();
    for t in 0..122u64 {
        let mut id = [0u8; 32];
        id[0] = (t * 37) as u8;
        id[1] = t as u8;
        set.insert(t / 3, Id(id)).unwrap();
    }
    let mut responder = Session::new(set.snapshot(), 4096).unwrap();
    assert_eq!(
        malformed_kind(responder.reconcile(&[0x61, 0x00, 0x01, 0x01, 0x02, 0x00])),
        MalformedKind::PrefixAtInfinity
    );
}
