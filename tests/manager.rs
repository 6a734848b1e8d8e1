//! SyncManager: per-peer sessions, both directions at once, bounds, expiry, and counters.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Rng, difference, random_pair, set_of};
use negsync::{Direction, Error, ItemSet, ManagerConfig, PeerId, SyncManager};

const ALICE: PeerId = [0xa1; 32];
const BOB: PeerId = [0xb0; 32];

/// Drives one outbound sync from `from` (known to `to` as `from_id`) to completion; returns the
/// have/need IDs it reported.
fn sync(
    from: &mut SyncManager,
    from_id: PeerId,
    to: &mut SyncManager,
    to_id: PeerId,
    now: u64,
) -> (BTreeSet<negsync::Id>, BTreeSet<negsync::Id>) {
    let mut message = from.start(to_id, now).unwrap();
    loop {
        let answer = to
            .handle(from_id, Direction::Inbound, &message, now)
            .unwrap();
        let reply = answer.reply.expect("a responder always answers");
        let handled = from
            .handle(to_id, Direction::Outbound, &reply, now)
            .unwrap();
        if handled.complete {
            assert!(handled.reply.is_none());
            // The responder may still hold its session (it cannot know the exchange ended).
            to.close(from_id, Direction::Inbound);
            return (
                handled.have.into_iter().collect(),
                handled.need.into_iter().collect(),
            );
        }
        message = handled
            .reply
            .expect("an unfinished initiator has more to say");
    }
}

#[test]
fn two_peers_syncing_toward_each_other_at_once_get_independent_sessions() {
    let mut rng = Rng::new(11);
    let (a, b) = random_pair(&mut rng, 3000, 40, 60, 1 << 20);
    let mut alice = SyncManager::new(Arc::new(set_of(&a)), ManagerConfig::DEFAULT).unwrap();
    let mut bob = SyncManager::new(Arc::new(set_of(&b)), ManagerConfig::DEFAULT).unwrap();

    // Both start before either answers: four sessions, none colliding.
    let from_alice = alice.start(BOB, 1).unwrap();
    let from_bob = bob.start(ALICE, 1).unwrap();
    let mut alice_message = from_alice;
    let mut bob_message = from_bob;
    let (mut alice_done, mut bob_done) = (None, None);
    for now in 2..100 {
        if alice_done.is_none() {
            let reply = bob
                .handle(ALICE, Direction::Inbound, &alice_message, now)
                .unwrap();
            let handled = alice
                .handle(BOB, Direction::Outbound, &reply.reply.unwrap(), now)
                .unwrap();
            match handled.reply {
                Some(next) => alice_message = next,
                None => alice_done = Some((handled.have, handled.need)),
            }
        }
        if bob_done.is_none() {
            let reply = alice
                .handle(BOB, Direction::Inbound, &bob_message, now)
                .unwrap();
            let handled = bob
                .handle(ALICE, Direction::Outbound, &reply.reply.unwrap(), now)
                .unwrap();
            match handled.reply {
                Some(next) => bob_message = next,
                None => bob_done = Some((handled.have, handled.need)),
            }
        }
        if alice_done.is_some() && bob_done.is_some() {
            break;
        }
    }
    let (alice_have, alice_need) = alice_done.expect("alice finished");
    let (bob_have, bob_need) = bob_done.expect("bob finished");
    let set = |ids: Vec<negsync::Id>| ids.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(set(alice_have), difference(&a, &b));
    assert_eq!(set(alice_need), difference(&b, &a));
    assert_eq!(set(bob_have), difference(&b, &a));
    assert_eq!(set(bob_need), difference(&a, &b));
    assert_eq!(
        alice.stats().completed,
        2,
        "alice's outbound, and her inbound answer"
    );
    assert_eq!(alice.stats().started_outbound, 1);
    assert_eq!(alice.stats().started_inbound, 1);
    assert_eq!(alice.stats().have_total, 40);
    assert_eq!(alice.stats().need_total, 60);
}

#[test]
fn a_second_outbound_sync_to_the_same_peer_is_refused_while_one_runs() {
    let mut manager = SyncManager::new(Arc::new(ItemSet::new()), ManagerConfig::DEFAULT).unwrap();
    manager.start(BOB, 0).unwrap();
    assert!(matches!(manager.start(BOB, 0), Err(Error::WrongState(_))));
    assert!(manager.start(ALICE, 0).is_ok());
    assert!(matches!(
        manager.handle([9; 32], Direction::Outbound, &[0x61], 0),
        Err(Error::WrongState(_))
    ));
}

#[test]
fn the_oldest_idle_session_is_evicted_and_idle_ones_expire() {
    let config = ManagerConfig {
        max_sessions: 3,
        idle_timeout: 100,
        ..ManagerConfig::DEFAULT
    };
    let mut manager = SyncManager::new(Arc::new(ItemSet::new()), config).unwrap();
    for (i, now) in [(1u8, 10u64), (2, 20), (3, 30)] {
        manager.start([i; 32], now).unwrap();
    }
    manager.start([4; 32], 40).unwrap();
    assert!(
        !manager.is_active(&[1; 32], Direction::Outbound),
        "idle longest"
    );
    assert!(manager.is_active(&[2; 32], Direction::Outbound));
    assert_eq!(manager.stats().evicted, 1);
    assert_eq!(manager.stats().live, 3);

    assert_eq!(
        manager.expire(120),
        0,
        "idle exactly the timeout is not past it"
    );
    assert_eq!(
        manager.expire(121),
        1,
        "only the one last active at 20 is past 100"
    );
    assert_eq!(manager.expire(1000), 2);
    assert_eq!(manager.stats().live, 0);
    assert_eq!(manager.stats().expired, 3);
}

#[test]
fn a_failing_session_is_removed_alone_and_counted() {
    let mut rng = Rng::new(5);
    let (a, b) = random_pair(&mut rng, 100, 5, 5, 1000);
    let mut manager = SyncManager::new(Arc::new(set_of(&a)), ManagerConfig::DEFAULT).unwrap();
    let mut peer = SyncManager::new(Arc::new(set_of(&b)), ManagerConfig::DEFAULT).unwrap();
    manager.start(BOB, 0).unwrap();
    assert!(matches!(
        manager.handle(ALICE, Direction::Inbound, &[0x61, 0x80], 0),
        Err(Error::MalformedMessage(_))
    ));
    assert_eq!(manager.stats().failed, 1);
    assert!(
        manager.is_active(&BOB, Direction::Outbound),
        "other sessions live on"
    );
    assert!(!manager.is_active(&ALICE, Direction::Inbound));
    manager.close(BOB, Direction::Outbound);
    let (have, need) = sync(&mut manager, ALICE, &mut peer, BOB, 1);
    assert_eq!(have, difference(&a, &b));
    assert_eq!(need, difference(&b, &a));
    assert_eq!(manager.stats().live, 0);
    assert_eq!(manager.stats().closed, 1);
}

#[test]
fn sessions_see_the_set_as_it_was_when_they_began() {
    let set = Arc::new(ItemSet::new());
    set.insert(1, negsync::Id([1; 32])).unwrap();
    let mut manager = SyncManager::new(Arc::clone(&set), ManagerConfig::DEFAULT).unwrap();
    let mut peer = SyncManager::new(Arc::new(ItemSet::new()), ManagerConfig::DEFAULT).unwrap();
    let (have, _) = sync(&mut manager, ALICE, &mut peer, BOB, 0);
    assert_eq!(have.len(), 1);
    set.insert(2, negsync::Id([2; 32])).unwrap();
    let (have, _) = sync(&mut manager, ALICE, &mut peer, BOB, 1);
    assert_eq!(have.len(), 2, "a new session reads the new snapshot");
}

#[test]
fn bad_configurations_are_refused() {
    let set = Arc::new(ItemSet::new());
    for config in [
        ManagerConfig {
            max_sessions: 0,
            ..ManagerConfig::DEFAULT
        },
        ManagerConfig {
            frame_size_limit: 100,
            ..ManagerConfig::DEFAULT
        },
    ] {
        assert!(matches!(
            SyncManager::new(Arc::clone(&set), config),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn a_bad_first_message_from_a_stranger_evicts_nobody() {
    let config = ManagerConfig {
        max_sessions: 1,
        ..ManagerConfig::DEFAULT
    };
    let mut manager = SyncManager::new(Arc::new(ItemSet::new()), config).unwrap();
    manager.start(BOB, 0).unwrap();
    assert!(matches!(
        manager.handle([0x66; 32], Direction::Inbound, &[0x61, 0x80], 1),
        Err(Error::MalformedMessage(_))
    ));
    assert!(manager.is_active(&BOB, Direction::Outbound));
    assert_eq!(manager.stats().evicted, 0);
    assert_eq!(manager.stats().live, 1);
}

/// The responder of the 1..131 / 101..131 case never learns that the exchange ended. If the
/// application cannot close it, the peer's next sync after the idle timeout must still be answered
/// from the set as it is then, not from the old snapshot.
#[test]
fn an_unclosed_inbound_session_idle_past_the_timeout_answers_from_a_fresh_snapshot() {
    let mut rng = Rng::new(21);
    let ids: Vec<negsync::Id> = (0..132).map(|_| rng.id()).collect();
    let bob_set = Arc::new(ItemSet::new());
    for t in 1..=131u64 {
        bob_set.insert(t, ids[t as usize]).unwrap();
    }
    let alice_set = Arc::new(ItemSet::new());
    for t in 101..=131u64 {
        alice_set.insert(t, ids[t as usize]).unwrap();
    }
    let config = ManagerConfig {
        frame_size_limit: 4096,
        idle_timeout: 10,
        ..ManagerConfig::DEFAULT
    };
    let mut bob = SyncManager::new(Arc::clone(&bob_set), config).unwrap();
    let mut alice = SyncManager::new(alice_set, ManagerConfig::DEFAULT).unwrap();

    let run = |alice: &mut SyncManager, bob: &mut SyncManager, now: u64| {
        let mut message = alice.start(BOB, now).unwrap();
        loop {
            let reply = bob
                .handle(ALICE, Direction::Inbound, &message, now)
                .unwrap();
            let handled = alice
                .handle(BOB, Direction::Outbound, &reply.reply.unwrap(), now)
                .unwrap();
            match handled.reply {
                Some(next) => message = next,
                None => return handled.need.len(),
            }
        }
    };
    assert_eq!(run(&mut alice, &mut bob, 0), 100);
    assert!(
        bob.is_active(&ALICE, Direction::Inbound),
        "the responder could not know"
    );
    bob_set.insert(500, rng.id()).unwrap();
    assert_eq!(run(&mut alice, &mut bob, 100), 101, "the new item is found");
    assert_eq!(bob.stats().expired, 1);
}
