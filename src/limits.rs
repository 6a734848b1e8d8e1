//! What a peer may make one session do, at most.

/// Per-session bounds a peer cannot get around. Exceeding one fails the session with
/// [`Error::LimitExceeded`](crate::Error::LimitExceeded); the set is never touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest message accepted from the peer, in bytes.
    pub max_message_size: usize,
    /// The most messages accepted from the peer in one session.
    pub max_rounds: u64,
    /// The most bytes the have and need lists may hold together (32 per ID).
    pub max_id_bytes: usize,
}

impl Limits {
    /// Generous enough for a million-item set synced with a 4096-byte frame limit, and still a
    /// hard stop for a peer that never ends: 64 MiB messages, 100,000 rounds, 64 MiB of IDs
    /// (two million IDs). Firmware should set its own, smaller figures.
    pub const DEFAULT: Limits = Limits {
        max_message_size: 64 << 20,
        max_rounds: 100_000,
        max_id_bytes: 64 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
