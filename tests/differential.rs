//! negsync's engine against the oracle, the `negentropy` crate 0.5.3, side by side: with no
//! frame limit or one of at least 4,096 bytes every message must be the crate's byte for byte,
//! and an initiator must learn the same have/need IDs in the same round.

mod common;

use std::collections::BTreeSet;

use common::{Rng, random_pair, set_of};
use negentropy::{Negentropy, NegentropyStorageBase, NegentropyStorageVector};
use negsync::{Id, Item, Session, Snapshot};

/// Limits where the crate works: none, its minimum, just above, and larger.
const CRATE_LIMITS: [u64; 5] = [0, 4096, 4097, 5000, 20_000];

fn crate_storage(items: &BTreeSet<Item>) -> NegentropyStorageVector {
    let mut storage = NegentropyStorageVector::with_capacity(items.len());
    for item in items {
        storage
            .insert(item.timestamp, negentropy::Id::from_byte_array(item.id.0))
            .unwrap();
    }
    storage.seal().unwrap();
    storage
}

fn crate_session(
    items: &BTreeSet<Item>,
    limit: u64,
) -> Negentropy<'static, NegentropyStorageVector> {
    Negentropy::owned(crate_storage(items), limit).unwrap()
}

fn snapshot(items: &BTreeSet<Item>) -> Snapshot {
    set_of(items).snapshot()
}

/// Adds one round's IDs as a negsync session does: sorted within the round, each ID once.
fn accumulate(list: &mut Vec<Id>, round: Vec<negentropy::Id>) {
    let mut round: Vec<Id> = round.into_iter().map(|id| Id(id.to_bytes())).collect();
    round.sort_unstable();
    for id in round {
        if !list.contains(&id) {
            list.push(id);
        }
    }
}

/// Runs both implementations in lockstep, comparing every message and, after every round, the
/// initiator's have/need lists.
fn lockstep(a: &BTreeSet<Item>, b: &BTreeSet<Item>, limits: (u64, u64)) -> usize {
    let context = format!("|A|={} |B|={} limits={limits:?}", a.len(), b.len());
    let mut ours_i = Session::new(snapshot(a), limits.0).unwrap();
    let mut ours_r = Session::new(snapshot(b), limits.1).unwrap();
    let mut crate_i = crate_session(a, limits.0);
    let mut crate_r = crate_session(b, limits.1);
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let mut message = ours_i.initiate().unwrap();
    assert_eq!(
        message,
        crate_i.initiate().unwrap(),
        "first message, {context}"
    );
    for round in 1.. {
        assert!(round < 10_000, "no end, {context}");
        let reply = ours_r.reconcile(&message).unwrap().reply.unwrap();
        assert_eq!(
            reply,
            crate_r.reconcile(&message).unwrap(),
            "reply {round}, {context}"
        );
        let step = ours_i.reconcile(&reply).unwrap();
        let (mut round_have, mut round_need) = (Vec::new(), Vec::new());
        let crate_next = crate_i
            .reconcile_with_ids(&reply, &mut round_have, &mut round_need)
            .unwrap();
        accumulate(&mut have, round_have);
        accumulate(&mut need, round_need);
        assert_eq!(step.reply, crate_next, "message {round}, {context}");
        assert_eq!(
            ours_i.have_ids().unwrap(),
            have,
            "have after {round}, {context}"
        );
        assert_eq!(
            ours_i.need_ids().unwrap(),
            need,
            "need after {round}, {context}"
        );
        match step.reply {
            Some(next) => message = next,
            None => return round,
        }
    }
    unreachable!()
}

#[test]
fn whole_exchanges_equal_the_crates_byte_for_byte() {
    let mut rng = Rng::new(0x0d1f_f000_0000_0001);
    let shapes = [
        (0, 0, 0, 10),
        (0, 40, 0, 10),
        (0, 0, 40, 10),
        (31, 1, 1, 5),
        (300, 3, 3, 1_000),
        (2000, 100, 100, 20),
        (3000, 0, 900, 1 << 32),
        (5000, 600, 10, 3),
        (8000, 400, 400, 1 << 20),
    ];
    let mut cut_exchanges = 0;
    for (shared, only_a, only_b, range) in shapes {
        let (a, b) = random_pair(&mut rng, shared, only_a, only_b, range);
        for limit_a in CRATE_LIMITS {
            for limit_b in CRATE_LIMITS {
                if lockstep(&a, &b, (limit_a, limit_b)) > 2 {
                    cut_exchanges += 1;
                }
            }
        }
    }
    assert!(
        cut_exchanges > 20,
        "frame cuts must be exercised: {cut_exchanges}"
    );
}

/// A V1 message built by hand: increasing bounds near and between the items, each range one of
/// the three modes, fingerprints sometimes right, ID lists mixing held and unknown IDs.
fn random_message(rng: &mut Rng, items: &[Item], storage: &NegentropyStorageVector) -> Vec<u8> {
    let mut bounds: Vec<(u64, Vec<u8>)> = (0..rng.below(24))
        .map(|_| {
            if items.is_empty() || rng.below(5) == 0 {
                (rng.below(1 << 20), Vec::new())
            } else {
                let item = items[rng.below(items.len() as u64) as usize];
                let len = [0, 1, 2, 32][rng.below(4) as usize];
                (item.timestamp, item.id.0[..len].to_vec())
            }
        })
        .collect();
    let padded = |prefix: &[u8]| {
        let mut id = [0u8; 32];
        id[..prefix.len()].copy_from_slice(prefix);
        id
    };
    bounds.sort_by_key(|(timestamp, prefix)| (*timestamp, padded(prefix)));
    for _ in 0..rng.below(3) {
        bounds.push((u64::MAX, Vec::new()));
    }
    let mut message = vec![0x61];
    let (mut last_timestamp, mut lower) = (0u64, 0usize);
    for (timestamp, prefix) in bounds {
        let bound = negentropy::Bound::with_timestamp_and_id(timestamp, &prefix).unwrap();
        let upper = storage.find_lower_bound(lower, items.len(), &bound);
        if timestamp == u64::MAX {
            varint(&mut message, 0);
        } else {
            varint(&mut message, timestamp - last_timestamp + 1);
            last_timestamp = timestamp;
        }
        varint(&mut message, prefix.len() as u64);
        message.extend(&prefix);
        match rng.below(3) {
            0 => message.push(0),
            1 => {
                message.push(1);
                if rng.below(2) == 0 {
                    message.extend(storage.fingerprint(lower, upper).unwrap().to_bytes());
                } else {
                    message.extend(rng.id().0[..16].iter());
                }
            }
            _ => {
                message.push(2);
                let ids: Vec<Id> = (0..rng.below(40))
                    .map(|_| match rng.below(3) {
                        0 if upper > lower => {
                            items[lower + rng.below((upper - lower) as u64) as usize].id
                        }
                        1 if !items.is_empty() => items[rng.below(items.len() as u64) as usize].id,
                        _ => rng.id(),
                    })
                    .collect();
                varint(&mut message, ids.len() as u64);
                ids.iter().for_each(|id| message.extend(id.0));
            }
        }
        lower = upper;
    }
    message
}

fn varint(out: &mut Vec<u8>, value: u64) {
    let mut groups = vec![(value & 0x7f) as u8];
    let mut rest = value >> 7;
    while rest > 0 {
        groups.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.extend(groups.iter().rev());
}

#[test]
fn any_valid_message_gets_the_crates_answer_in_both_roles() {
    let mut rng = Rng::new(0x0d1f_f000_0000_0002);
    let mut answered = 0;
    for case in 0..400u64 {
        let (items, _) = random_pair(&mut rng, [0, 5, 40, 300, 3000][case as usize % 5], 0, 0, 50);
        let sorted: Vec<Item> = items.iter().copied().collect();
        let storage = crate_storage(&items);
        let message = random_message(&mut rng, &sorted, &storage);
        negsync::wire::validate(&message).expect("the generator writes valid messages");
        let limit = CRATE_LIMITS[case as usize % CRATE_LIMITS.len()];

        let mut ours = Session::new(snapshot(&items), limit).unwrap();
        let mut theirs = crate_session(&items, limit);
        let reply = ours.reconcile(&message).unwrap().reply.unwrap();
        assert_eq!(
            reply,
            theirs.reconcile(&message).unwrap(),
            "responder, case {case}"
        );

        let mut ours = Session::new(snapshot(&items), limit).unwrap();
        let mut theirs = crate_session(&items, limit);
        assert_eq!(ours.initiate().unwrap(), theirs.initiate().unwrap());
        let step = ours.reconcile(&message).unwrap();
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = theirs
            .reconcile_with_ids(&message, &mut have, &mut need)
            .unwrap();
        assert_eq!(step.reply, next, "initiator, case {case}");
        let (mut crate_have, mut crate_need) = (Vec::new(), Vec::new());
        accumulate(&mut crate_have, have);
        accumulate(&mut crate_need, need);
        assert_eq!(ours.have_ids().unwrap(), crate_have, "have, case {case}");
        assert_eq!(ours.need_ids().unwrap(), crate_need, "need, case {case}");
        answered += usize::from(reply.len() > 1);
    }
    assert!(
        answered > 100,
        "most messages must need an answer: {answered}"
    );
}

/// negsync at a radio limit with the crate as its peer, in both roles: the crate reads small
/// messages, and the initiator (either one) must learn exactly the differences.
#[test]
fn radio_frames_interoperate_with_the_crate_in_both_roles() {
    let mut rng = Rng::new(0x0d1f_f000_0000_0003);
    for (shared, only_a, only_b, range) in [
        (0, 30, 30, 10),
        (500, 20, 20, 100),
        (3000, 40, 5, 1 << 32),
        (2000, 0, 300, 3),
    ] {
        let (a, b) = random_pair(&mut rng, shared, only_a, only_b, range);
        let expected_have: BTreeSet<Id> = a.difference(&b).map(|item| item.id).collect();
        let expected_need: BTreeSet<Id> = b.difference(&a).map(|item| item.id).collect();
        for (radio, crate_limit) in [(128, 0), (200, 4096), (233, 0), (1024, 4096)] {
            let context = format!(
                "|A|={} |B|={} radio {radio}, crate {crate_limit}",
                a.len(),
                b.len()
            );
            // negsync initiates at the radio limit; the crate answers.
            let mut ours = Session::new(snapshot(&a), radio).unwrap();
            let mut theirs = crate_session(&b, crate_limit);
            let mut message = ours.initiate().unwrap();
            for round in 0.. {
                assert!(round < 20_000, "no end, {context}");
                assert!(message.len() as u64 <= radio, "{context}");
                let reply = theirs.reconcile(&message).unwrap();
                match ours.reconcile(&reply).unwrap().reply {
                    Some(next) => message = next,
                    None => break,
                }
            }
            let found = |ids: &[Id]| ids.iter().copied().collect::<BTreeSet<Id>>();
            assert_eq!(
                found(ours.have_ids().unwrap()),
                expected_have,
                "have, {context}"
            );
            assert_eq!(
                found(ours.need_ids().unwrap()),
                expected_need,
                "need, {context}"
            );

            // The crate initiates; negsync answers at the radio limit.
            let mut theirs = crate_session(&a, crate_limit);
            let mut ours = Session::new(snapshot(&b), radio).unwrap();
            let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
            let mut message = theirs.initiate().unwrap();
            for round in 0.. {
                assert!(round < 20_000, "no end, {context}");
                let reply = ours.reconcile(&message).unwrap().reply.unwrap();
                assert!(reply.len() as u64 <= radio, "{context}");
                let (mut round_have, mut round_need) = (Vec::new(), Vec::new());
                let next = theirs
                    .reconcile_with_ids(&reply, &mut round_have, &mut round_need)
                    .unwrap();
                have.extend(round_have.into_iter().map(|id| Id(id.to_bytes())));
                need.extend(round_need.into_iter().map(|id| Id(id.to_bytes())));
                match next {
                    Some(next) => message = next,
                    None => break,
                }
            }
            assert_eq!(have, expected_have, "crate's have, {context}");
            assert_eq!(need, expected_need, "crate's need, {context}");
        }
    }
}
