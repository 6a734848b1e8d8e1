//! Sessions read the set's sealed snapshot in place: no copy per session, and no copy at all when
//! the set has not changed since the last snapshot.

use negsync::{Id, ItemSet, Session};

#[test]
fn sessions_on_an_unchanged_set_share_one_snapshot() {
    let set = ItemSet::new();
    let timestamps: Vec<u64> = (0..10_000).collect();
    let ids: Vec<u8> = (0..10_000u32)
        .flat_map(|i| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            id
        })
        .collect();
    set.insert_many(&timestamps, &ids).unwrap();
    let sessions: Vec<Session> = (0..100)
        .map(|_| Session::new(set.snapshot(), 0).unwrap())
        .collect();
    for session in &sessions {
        assert!(session.snapshot().shares_items_with(sessions[0].snapshot()));
    }

    set.insert(20_000, Id([0xee; 32])).unwrap();
    let after_change = Session::new(set.snapshot(), 0).unwrap();
    assert!(
        !after_change
            .snapshot()
            .shares_items_with(sessions[0].snapshot())
    );
    assert_eq!(sessions[0].snapshot().len(), 10_000);
    assert_eq!(after_change.snapshot().len(), 10_001);
}

#[test]
fn a_session_outlives_its_set() {
    let set = ItemSet::new();
    set.insert(1, Id([1; 32])).unwrap();
    let mut session = Session::new(set.snapshot(), 0).unwrap();
    drop(set);
    let first = session.initiate().unwrap();
    assert_eq!(first[0], 0x61);
}
