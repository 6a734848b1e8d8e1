//! One whole exchange (both sides, every round, in this process), run through the `negentropy`
//! crate directly (the baseline) and through negsync's Rust API, with identical data and driving.

use std::hint::black_box;
use std::time::Instant;

use negentropy::{Id as EngineId, Negentropy, NegentropyStorageVector};
use negsync::{Id, ItemSet, Session};

use crate::data::Side;

/// What one exchange cost and found. `seconds` covers session creation, every round on both
/// sides, and having the have/need IDs in hand; set building is timed separately.
pub struct Outcome {
    pub seconds: f64,
    /// Replies from the responder: one per round trip.
    pub round_trips: u64,
    pub bytes_to_responder: u64,
    pub bytes_to_initiator: u64,
    pub have: usize,
    pub need: usize,
    /// Order-independent fingerprints of the have and need lists (see [`id_checksum`]), so each
    /// variant can be checked to find exactly what the baseline found.
    pub have_checksum: u64,
    pub need_checksum: u64,
}

/// The wrapping sum of each ID's first eight bytes read little-endian: cheap to compute the same
/// way in Rust, C and Python, and independent of the order IDs are reported in.
pub fn id_checksum<'a>(ids: impl IntoIterator<Item = &'a [u8; 32]>) -> u64 {
    ids.into_iter().fold(0u64, |sum, id| {
        sum.wrapping_add(u64::from_le_bytes(id[..8].try_into().expect("8 bytes")))
    })
}

/// The baseline's set: the crate's own vector storage, filled one item at a time and sealed, as
/// its documentation shows.
pub fn build_crate_storage(side: &Side) -> NegentropyStorageVector {
    let mut storage = NegentropyStorageVector::with_capacity(side.len());
    for (timestamp, id) in side.items() {
        storage
            .insert(timestamp, EngineId::from_byte_array(id))
            .expect("storage is not sealed yet");
    }
    storage.seal().expect("sealed once");
    storage
}

/// negsync's set: one `insert_many`, then the snapshot that seals it.
pub fn build_negsync_set(side: &Side) -> ItemSet {
    let set = ItemSet::new();
    set.insert_many(&side.timestamps, &side.ids)
        .expect("generated timestamps are valid");
    black_box(set.snapshot());
    set
}

/// The baseline exchange: two `Negentropy` instances borrowing the two storages.
#[inline(never)]
pub fn run_crate(
    initiator_storage: &NegentropyStorageVector,
    responder_storage: &NegentropyStorageVector,
    frame_limit: u64,
) -> Outcome {
    let started = Instant::now();
    let mut initiator = Negentropy::borrowed(initiator_storage, frame_limit).expect("valid limit");
    let mut responder = Negentropy::borrowed(responder_storage, frame_limit).expect("valid limit");
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let mut message = initiator.initiate().expect("first message");
    let (mut round_trips, mut to_responder, mut to_initiator) = (0, 0, 0);
    loop {
        to_responder += message.len() as u64;
        let reply = responder.reconcile(&message).expect("responder answers");
        to_initiator += reply.len() as u64;
        round_trips += 1;
        match initiator
            .reconcile_with_ids(&reply, &mut have, &mut need)
            .expect("initiator reads the reply")
        {
            Some(next) => message = next,
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Outcome {
        seconds,
        round_trips,
        bytes_to_responder: to_responder,
        bytes_to_initiator: to_initiator,
        have: have.len(),
        need: need.len(),
        have_checksum: id_checksum(have.iter().map(EngineId::as_bytes)),
        need_checksum: id_checksum(need.iter().map(EngineId::as_bytes)),
    }
}

/// The same exchange through negsync's Rust API: sessions over each set's current snapshot.
#[inline(never)]
pub fn run_negsync(initiator_set: &ItemSet, responder_set: &ItemSet, frame_limit: u64) -> Outcome {
    let started = Instant::now();
    let mut initiator = Session::new(initiator_set.snapshot(), frame_limit).expect("valid limit");
    let mut responder = Session::new(responder_set.snapshot(), frame_limit).expect("valid limit");
    // The lent API: replies are read from the sessions' own buffers, as a transport that sends
    // them straight out would (the crate hands out a new Vec per message instead).
    let mut message = initiator.initiate_lent().expect("first message").to_vec();
    let (mut round_trips, mut to_responder, mut to_initiator) = (0, 0, 0);
    loop {
        to_responder += message.len() as u64;
        let reply = responder
            .reconcile_lent(&message)
            .expect("responder answers")
            .reply
            .expect("a responder always replies");
        to_initiator += reply.len() as u64;
        round_trips += 1;
        match initiator
            .reconcile_lent(reply)
            .expect("initiator reads the reply")
            .reply
        {
            Some(next) => {
                message.clear();
                message.extend_from_slice(next);
            }
            None => break,
        }
    }
    let have = initiator.have_ids().expect("initiator");
    let need = initiator.need_ids().expect("initiator");
    let seconds = started.elapsed().as_secs_f64();
    Outcome {
        seconds,
        round_trips,
        bytes_to_responder: to_responder,
        bytes_to_initiator: to_initiator,
        have: have.len(),
        need: need.len(),
        have_checksum: id_checksum(have.iter().map(Id::as_bytes)),
        need_checksum: id_checksum(need.iter().map(Id::as_bytes)),
    }
}
