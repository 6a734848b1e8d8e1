//! Whole exchanges between two sessions: the initiator learns exactly the set differences, for
//! every frame-limit pairing, set shape and size mix; both sides respect their frame limits.

mod common;

use std::collections::BTreeSet;

use common::{Rng, assert_exactly, difference, random_pair, run_exchange, set_of};
use negsync::{Id, Item, Session};

const LIMIT_PAIRS: [(u64, u64); 13] = [
    (0, 0),
    (4096, 4096),
    (60_000, 60_000),
    (4096, 0),
    (0, 60_000),
    // Radio frames (negsync's own framing below 4096), against each other and the crate's.
    (128, 128),
    (200, 200),
    (233, 244),
    (1024, 512),
    (128, 0),
    (0, 200),
    (4096, 128),
    (200, 60_000),
];

fn check(a: &BTreeSet<Item>, b: &BTreeSet<Item>, limits: (u64, u64)) -> common::Exchange {
    let exchange = run_exchange(
        set_of(a).snapshot(),
        set_of(b).snapshot(),
        limits.0,
        limits.1,
    );
    let context = format!("|A|={} |B|={} limits={limits:?}", a.len(), b.len());
    assert_exactly(
        &exchange.have,
        &difference(a, b),
        &format!("have, {context}"),
    );
    assert_exactly(
        &exchange.need,
        &difference(b, a),
        &format!("need, {context}"),
    );
    if limits.0 != 0 {
        assert!(
            exchange.largest_from_initiator as u64 <= limits.0,
            "{context}"
        );
    }
    if limits.1 != 0 {
        assert!(
            exchange.largest_from_responder as u64 <= limits.1,
            "{context}"
        );
    }
    exchange
}

#[test]
fn random_sets_give_the_exact_difference_under_every_frame_limit_pair() {
    let mut rng = Rng::new(0x6e65_6773_796e_6301);
    // (shared, only on A, only on B, timestamp range)
    let shapes = [
        (0, 0, 0, 100),
        (0, 50, 0, 100),
        (0, 0, 50, 100),
        (1000, 0, 0, 1000),
        (1000, 10, 10, 1_000_000),
        (3000, 200, 5, 50),
        (3000, 5, 200, 50),
        (500, 2000, 2000, 10),
        (5000, 300, 300, 3),
        (20_000, 150, 150, 1 << 40),
    ];
    for (shared, only_a, only_b, range) in shapes {
        let (a, b) = random_pair(&mut rng, shared, only_a, only_b, range);
        for limits in LIMIT_PAIRS {
            check(&a, &b, limits);
        }
    }
}

/// A node that acts on IDs as each round brings them reads the lists and forgets them every
/// round: what it read adds up to the exact differences, and the totals count every ID listed.
/// (A V1 peer can list an ID again after a frame cut, so a forgotten ID may come back.)
#[test]
fn ids_read_and_forgotten_each_round_add_up_to_the_exact_differences() {
    let mut rng = Rng::new(0x666f_7267_6574);
    let (a, b) = random_pair(&mut rng, 3000, 150, 150, 500);
    let mut most_rounds_with_findings = 0;
    for limits in LIMIT_PAIRS {
        let mut initiator = Session::new(set_of(&a).snapshot(), limits.0).unwrap();
        let mut responder = Session::new(set_of(&b).snapshot(), limits.1).unwrap();
        let mut message = initiator.initiate().unwrap();
        let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
        let (mut have_listed, mut need_listed) = (0, 0);
        let mut rounds_with_findings = 0;
        loop {
            let reply = responder.reconcile(&message).unwrap().reply.unwrap();
            let step = initiator.reconcile(&reply).unwrap();
            let (new_have, new_need) =
                (initiator.have_ids().unwrap(), initiator.need_ids().unwrap());
            rounds_with_findings += usize::from(!new_have.is_empty() || !new_need.is_empty());
            have.extend(new_have.iter().copied());
            need.extend(new_need.iter().copied());
            have_listed += new_have.len() as u64;
            need_listed += new_need.len() as u64;
            initiator.forget_ids().unwrap();
            assert!(
                initiator.have_ids().unwrap().is_empty()
                    && initiator.need_ids().unwrap().is_empty()
            );
            match step.reply {
                Some(next) => message = next,
                None => break,
            }
        }
        let context = format!("limits={limits:?}");
        assert_eq!(have, difference(&a, &b), "have, {context}");
        assert_eq!(need, difference(&b, &a), "need, {context}");
        assert_eq!(
            initiator.found_counts().unwrap(),
            (have_listed, need_listed),
            "{context}"
        );
        most_rounds_with_findings = most_rounds_with_findings.max(rounds_with_findings);
    }
    // Under the small frames, findings come over many rounds: forgetting was between them.
    assert!(most_rounds_with_findings > 5, "{most_rounds_with_findings}");
}

/// Two clusters of 40 items, each at one timestamp, whose IDs share 31 bytes: every bound
/// between two of them carries a 32-byte prefix, and some ranges span both timestamps. These
/// sets do not collide under V1's additive fingerprint (see tests/properties.rs), so the
/// differences must come out exact: with 128-byte frames below timestamp 2^42 (both in seconds
/// and in milliseconds since 1970), with 132-byte frames at the largest timestamps.
#[test]
fn ids_sharing_31_bytes_reconcile_exactly_in_128_byte_frames() {
    let cluster = |timestamp: u64, tags: std::ops::Range<u8>, left_out: u8| -> Vec<Item> {
        tags.filter(|&tag| tag != left_out)
            .map(|tag| {
                let mut id = [0xab; 32];
                id[31] = tag;
                Item::new(timestamp, Id(id)).unwrap()
            })
            .collect()
    };
    for (first, second, smallest) in [
        (1_700_000_000, 1_700_000_100, 128),
        (1_700_000_000_000, 1_700_000_000_500, 128),
        (1 << 63, (1 << 63) + (1 << 60), 132),
        (5, 1 << 63, 132),
    ] {
        let mut a: BTreeSet<Item> = cluster(first, 0..40, 17).into_iter().collect();
        a.extend(cluster(second, 0..40, 5));
        a.extend(cluster(first, 100..101, 0));
        let mut b: BTreeSet<Item> = cluster(first, 0..40, 23).into_iter().collect();
        b.extend(cluster(second, 0..40, 33));
        b.extend(cluster(second, 150..151, 0));
        for limits in [
            (smallest, smallest),
            (smallest, 0),
            (0, smallest),
            (4096, smallest),
            (smallest, 4096),
            (smallest + 3, 200),
        ] {
            check(&a, &b, limits);
        }
    }
}

#[test]
fn many_items_on_one_timestamp() {
    let mut rng = Rng::new(7);
    let (a, b) = random_pair(&mut rng, 4000, 300, 300, 1);
    for limits in LIMIT_PAIRS {
        check(&a, &b, limits);
    }
}

#[test]
fn identical_sets_finish_in_one_round_trip_with_nothing_to_report() {
    let mut rng = Rng::new(8);
    let (a, b) = random_pair(&mut rng, 10_000, 0, 0, 1 << 32);
    let exchange = check(&a, &b, (0, 0));
    assert_eq!(exchange.rounds, 1);
    assert!(exchange.responder_complete);
}

/// Frame cut regression: the responder (timestamps 1..=131, limit 4096) cuts its reply, the rest
/// already matches, and the initiator (101..=131) finishes after a reply that still held a
/// fingerprint range. The responder cannot know; the initiator's silence ends the exchange.
#[test]
fn initiator_finishes_after_a_frame_cut_reply_whose_rest_matches() {
    let mut rng = Rng::new(9);
    let ids: Vec<Id> = (0..131).map(|_| rng.id()).collect();
    let item = |t: u64| Item {
        timestamp: t,
        id: ids[t as usize - 1],
    };
    let responder: BTreeSet<Item> = (1..=131).map(item).collect();
    let initiator: BTreeSet<Item> = (101..=131).map(item).collect();
    for initiator_limit in [0, 4096] {
        let exchange = check(&initiator, &responder, (initiator_limit, 4096));
        assert_eq!(exchange.need.len(), 100);
        assert!(exchange.have.is_empty());
        assert!(
            !exchange.responder_complete,
            "this case exercises the finish the responder cannot see"
        );
    }
}

/// After its frame cut the crate appends an empty range at infinity behind the range that already
/// ends there; our validator must accept it (responder 122 items at limit 4096, initiator 5).
#[test]
fn frame_cut_with_trailing_empty_range_at_infinity_is_accepted() {
    let mut rng = Rng::new(10);
    let responder: BTreeSet<Item> = (0..122)
        .map(|t| Item {
            timestamp: 1000 + t,
            id: rng.id(),
        })
        .collect();
    let initiator: BTreeSet<Item> = responder.iter().take(5).copied().collect();
    // `00 00 01` + the fingerprint of nothing: a range up to infinity, mode Fingerprint, empty.
    let empty_tail: Vec<u8> = [0x00, 0x00, 0x01]
        .into_iter()
        .chain(EMPTY_FINGERPRINT)
        .collect();
    for limits in [(0, 4096), (4096, 4096)] {
        let exchange = check(&initiator, &responder, limits);
        let tail_seen = exchange
            .transcript
            .iter()
            .any(|message| message.len() > empty_tail.len() + 3 && message.ends_with(&empty_tail));
        assert!(
            tail_seen,
            "the case no longer makes the crate emit the empty range at infinity"
        );
        check(&responder, &initiator, (limits.1, limits.0));
    }
}

const EMPTY_FINGERPRINT: [u8; 16] = [
    0x7f, 0x9c, 0x9e, 0x31, 0xac, 0x82, 0x56, 0xca, 0x2f, 0x25, 0x85, 0x83, 0xdf, 0x26, 0x2d, 0xbc,
];

/// The bug this library must not repeat: a changed document kept its ID, so updates were never
/// found. With `id_for_version`, the new version is missing on the peer and the old one on us.
#[test]
fn a_changed_document_is_found_in_both_directions() {
    let old = Item::new(50, negsync::id_for_version(b"notes/today", b"hash-v1")).unwrap();
    let new = Item::new(60, negsync::id_for_version(b"notes/today", b"hash-v2")).unwrap();
    let other = Item::new(10, negsync::id_for_key(b"notes/other")).unwrap();
    let ours: BTreeSet<Item> = [other, new].into();
    let theirs: BTreeSet<Item> = [other, old].into();
    let exchange = check(&ours, &theirs, (0, 0));
    assert_eq!(exchange.have, [new.id]);
    assert_eq!(exchange.need, [old.id]);
}

#[test]
fn radio_frames_cost_at_most_twice_the_bytes_of_an_unlimited_exchange() {
    // 10,000 items a side, 10 differences each way (the benchmark's radio scenario).
    let mut rng = Rng::new(7);
    let (a, b) = random_pair(&mut rng, 10_000, 10, 10, 1 << 31);
    let total = |e: &common::Exchange| e.bytes_to_responder + e.bytes_to_initiator;
    let unlimited = total(&check(&a, &b, (0, 0)));
    for limit in [128, 200, 512, 1024] {
        let exchange = check(&a, &b, (limit, limit));
        assert!(
            total(&exchange) <= 2 * unlimited,
            "limit {limit}: {} bytes against {unlimited} with no limit",
            total(&exchange)
        );
    }
}

#[test]
fn a_window_finds_exactly_the_differences_inside_it_in_both_roles() {
    let mut rng = Rng::new(0x0077_1d0e);
    let (a, b) = random_pair(&mut rng, 3000, 200, 200, 10_000);
    for (from, to) in [
        (0, 10_000),
        (2_000, 2_500),
        (5_000, 5_001),
        (9_000, u64::MAX - 1),
        (7, 7),
    ] {
        let inside = |items: &BTreeSet<Item>| -> BTreeSet<Item> {
            items
                .iter()
                .filter(|item| (from..to).contains(&item.timestamp))
                .copied()
                .collect()
        };
        let (a_in, b_in) = (inside(&a), inside(&b));
        for (limit_a, limit_b) in [(0, 0), (4096, 4096), (200, 200), (128, 4096), (0, 512)] {
            // A initiates, then B initiates: each time the initiator learns exactly the window's
            // differences and nothing from outside it.
            for (ours, theirs, ours_in, theirs_in, limits) in [
                (&a, &b, &a_in, &b_in, (limit_a, limit_b)),
                (&b, &a, &b_in, &a_in, (limit_b, limit_a)),
            ] {
                let session = |items: &BTreeSet<Item>, limit| {
                    Session::with_window(
                        set_of(items).snapshot(),
                        from,
                        to,
                        limit,
                        Default::default(),
                    )
                    .unwrap()
                };
                let mut initiator = session(ours, limits.0);
                let mut responder = session(theirs, limits.1);
                let mut message = initiator.initiate().unwrap();
                loop {
                    assert!(limits.0 == 0 || message.len() as u64 <= limits.0);
                    let reply = responder.reconcile(&message).unwrap().reply.unwrap();
                    assert!(limits.1 == 0 || reply.len() as u64 <= limits.1);
                    match initiator.reconcile(&reply).unwrap().reply {
                        Some(next) => message = next,
                        None => break,
                    }
                }
                let context = format!("window {from}..{to}, limits {limits:?}");
                assert_exactly(
                    initiator.have_ids().unwrap(),
                    &difference(ours_in, theirs_in),
                    &context,
                );
                assert_exactly(
                    initiator.need_ids().unwrap(),
                    &difference(theirs_in, ours_in),
                    &context,
                );
            }
        }
    }
    assert!(
        Session::with_window(set_of(&a).snapshot(), 5, 4, 0, Default::default()).is_err(),
        "a window must not end before it starts"
    );
}
