//! negsync's Negentropy V1 engine: both roles, over a window of a shared [`Snapshot`].
//!
//! With no frame limit or one of at least 4,096 bytes, every message is byte for byte what the
//! `negentropy` crate 0.5.3 sends for the same items and input (its 16-way split, its ID-list
//! threshold, its frame cut and closing fingerprint): `tests/vectors/` and the differential tests
//! hold it to that. Below 4,096 bytes no other V1 implementation works, and the framing is ours
//! ([`Framing::Radio`]).
//!
//! Each peer message is read once, by the strict decoder ([`Ranges`]); range fingerprints come
//! from the snapshot's running sums ([`RangeIndex`]); the reply is written into a buffer the engine
//! keeps, so after its first round a session allocates only when a kept buffer must grow.

mod fingerprint;
mod framing;
pub(crate) mod range_index;
mod round;
#[cfg(target_arch = "x86_64")]
mod sha256_lanes;

use alloc::vec::Vec;

use fingerprint::BATCH;
pub(crate) use framing::{Framing, MIN_FRAME_SIZE_LIMIT};
use round::Round;

use crate::error::Error;
use crate::id::Id;
use crate::snapshot::Snapshot;
use crate::wire::{Bound, Payload, Range, Ranges};

/// Which side of the exchange the engine answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Learns have/need from the peer's ID lists; answers them with nothing.
    Initiator,
    /// Answers each ID list with its own.
    Responder,
}

/// The engine's buffers and settings for one session.
#[derive(Debug)]
pub(crate) struct Engine {
    framing: Framing,
    /// The items of the snapshot this session reconciles: `begin..end` (a time window, or all).
    begin: usize,
    end: usize,
    /// The message lent out by the last call.
    out: Vec<u8>,
    /// Scratch for matching a peer's ID list: the positions of its distinct IDs in ID order
    /// (sorting positions, not the 32-byte IDs themselves: the standard sort's small-slice
    /// scratch for IDs takes 1.6 KB of stack, too much on a microcontroller), and which of
    /// them we hold.
    their_order: Vec<usize>,
    matched: Vec<bool>,
}

/// What one call wrote into the engine's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    /// Fingerprint ranges in the message: each asks the peer for another round.
    pub(crate) fingerprint_ranges: usize,
}

impl Engine {
    /// An engine over the items `begin..end` of the snapshots it will be given.
    pub(crate) fn new(frame_size_limit: u64, begin: usize, end: usize) -> Result<Self, Error> {
        Ok(Self {
            framing: Framing::new(frame_size_limit)?,
            begin,
            end,
            out: Vec::new(),
            their_order: Vec::new(),
            matched: Vec::new(),
        })
    }

    /// Makes room, without panicking when the allocator refuses, for a message of `bytes` and
    /// for matching a peer's ID list of `ids` IDs: the session sizes these from its frame limit
    /// once, so that its rounds do not grow them (or allocate at all) in the common case.
    pub(crate) fn try_reserve(
        &mut self,
        bytes: usize,
        ids: usize,
    ) -> Result<(), alloc::collections::TryReserveError> {
        self.out
            .try_reserve_exact(bytes.saturating_sub(self.out.len()))?;
        self.their_order
            .try_reserve_exact(ids.saturating_sub(self.their_order.len()))?;
        self.matched
            .try_reserve_exact(ids.saturating_sub(self.matched.len()))
    }

    /// The message the last call wrote.
    pub(crate) fn message(&self) -> &[u8] {
        &self.out
    }

    /// Writes the initiator's first message: the whole window, split.
    pub(crate) fn initiate(&mut self, snapshot: &Snapshot) -> Result<Written, Error> {
        let (begin, end) = (self.begin, self.end);
        let mut round = Round::new(self, snapshot, Side::Initiator);
        round.split(begin, end, Bound::INFINITY)?;
        Ok(round.finish())
    }

    /// Answers one V1 message (version byte 0x61), adding what an initiator learns to `have`
    /// and `need`. A malformed message is refused whole, wherever the fault sits.
    pub(crate) fn reconcile(
        &mut self,
        snapshot: &Snapshot,
        message: &[u8],
        side: Side,
        have: &mut Vec<Id>,
        need: &mut Vec<Id>,
    ) -> Result<Written, Error> {
        let ranges = Ranges::new(message)?;
        let mut round = Round::new(self, snapshot, side);
        // Runs of fingerprint ranges wait here to be answered together, where fingerprints are
        // hashed side by side (elsewhere the batch is 1 and nothing waits).
        let mut run = [Range::EMPTY; BATCH];
        let mut queued = 0;
        let batch = round.batch();
        for range in ranges {
            let range = range?;
            // After a frame cut the rest is only checked: the closing fingerprint answers it.
            if round.is_cut() {
                continue;
            }
            // BATCH first: where it is 1 the compiler drops the gathering altogether.
            if BATCH > 1 && batch > 1 && matches!(range.payload, Payload::Fingerprint(_)) {
                run[queued] = range;
                queued += 1;
                if queued == batch {
                    round.answer_fingerprints(&run[..queued], have, need)?;
                    queued = 0;
                }
                continue;
            }
            if queued > 0 {
                round.answer_fingerprints(&run[..queued], have, need)?;
                queued = 0;
            }
            if !round.is_cut() {
                round.answer(&range, have, need)?;
            }
        }
        if queued > 0 {
            round.answer_fingerprints(&run[..queued], have, need)?;
        }
        Ok(round.finish())
    }
}
