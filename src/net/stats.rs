//! Live progress of one sync, and the statistics it ends with.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Where a sync is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connecting, or exchanging hellos.
    Connecting,
    /// Running the Negentropy exchange.
    Reconciling,
    /// Moving documents.
    Transferring,
    /// Over.
    Done,
}

/// Counters a sync updates as it goes; another task may read them at any time (a progress bar).
#[derive(Debug)]
pub struct Progress {
    phase: AtomicU8,
    rounds: AtomicU64,
    docs_to_send: AtomicU64,
    docs_to_receive: AtomicU64,
    docs_sent: AtomicU64,
    bytes_sent: AtomicU64,
    docs_received: AtomicU64,
    bytes_received: AtomicU64,
    refused: AtomicU64,
    stored: AtomicU64,
    kept: AtomicU64,
    missing: AtomicU64,
    problems: Mutex<Vec<String>>,
}

/// The most refusal reasons a sync keeps (the count goes on).
const MAX_PROBLEMS: usize = 16;

impl Default for Progress {
    fn default() -> Self {
        Self {
            phase: AtomicU8::new(Phase::Connecting as u8),
            rounds: AtomicU64::new(0),
            docs_to_send: AtomicU64::new(0),
            docs_to_receive: AtomicU64::new(0),
            docs_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            docs_received: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            missing: AtomicU64::new(0),
            problems: Mutex::new(Vec::new()),
        }
    }
}

impl Progress {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the sync is.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Relaxed) {
            0 => Phase::Connecting,
            1 => Phase::Reconciling,
            2 => Phase::Transferring,
            _ => Phase::Done,
        }
    }

    /// Reconciliation messages received from the peer so far.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Relaxed)
    }

    /// Documents this side will send, once reconciliation is over (0 before).
    pub fn docs_to_send(&self) -> u64 {
        self.docs_to_send.load(Relaxed)
    }

    /// Documents this side will receive, once reconciliation is over (0 before).
    pub fn docs_to_receive(&self) -> u64 {
        self.docs_to_receive.load(Relaxed)
    }

    /// Documents sent so far.
    pub fn docs_sent(&self) -> u64 {
        self.docs_sent.load(Relaxed)
    }

    /// Document bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Relaxed)
    }

    /// Documents received so far (stored, kept or refused).
    pub fn docs_received(&self) -> u64 {
        self.docs_received.load(Relaxed)
    }

    /// Document bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Relaxed)
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Relaxed);
    }

    pub(crate) fn set_rounds(&self, rounds: u64) {
        self.rounds.store(rounds, Relaxed);
    }

    pub(crate) fn set_totals(&self, to_send: u64, to_receive: u64) {
        self.docs_to_send.store(to_send, Relaxed);
        self.docs_to_receive.store(to_receive, Relaxed);
    }

    pub(crate) fn sent(&self, bytes: u64) {
        self.docs_sent.fetch_add(1, Relaxed);
        self.bytes_sent.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn received(&self, bytes: u64) {
        self.docs_received.fetch_add(1, Relaxed);
        self.bytes_received.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn refuse(&self, reason: String) {
        self.refused.fetch_add(1, Relaxed);
        let mut problems = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        if problems.len() < MAX_PROBLEMS {
            problems.push(reason);
        }
    }

    pub(crate) fn store(&self) {
        self.stored.fetch_add(1, Relaxed);
    }

    pub(crate) fn keep(&self) {
        self.kept.fetch_add(1, Relaxed);
    }

    pub(crate) fn miss(&self) {
        self.missing.fetch_add(1, Relaxed);
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    pub(crate) fn stats(&self) -> SyncStats {
        SyncStats {
            rounds: self.rounds(),
            docs_sent: self.docs_sent(),
            bytes_sent: self.bytes_sent(),
            docs_received: self.docs_received(),
            bytes_received: self.bytes_received(),
            refused: self.refused(),
            stored: self.stored.load(Relaxed),
            kept: self.kept.load(Relaxed),
            missing: self.missing.load(Relaxed),
            problems: self
                .problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ..SyncStats::default()
        }
    }
}

/// What one sync did, on one side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// The frame limit both sides agreed on (payload bytes).
    pub frame_limit: u32,
    /// Reconciliation messages received from the peer: the round trips of the exchange.
    pub rounds: u64,
    /// Reconciliation bytes sent (Negentropy messages, without framing).
    pub reconcile_bytes_sent: u64,
    /// Reconciliation bytes received.
    pub reconcile_bytes_received: u64,
    /// Documents sent to the peer.
    pub docs_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Documents received from the peer (whatever became of them).
    pub docs_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Received documents refused and not stored: bytes that do not match the ID, a document this
    /// side did not ask for, or one the store turned down.
    pub refused: u64,
    /// Received documents stored.
    pub stored: u64,
    /// Received documents not stored because the store holds them or a newer version already.
    pub kept: u64,
    /// Documents asked for that the peer no longer held.
    pub missing: u64,
    /// Initiator only: what the peer reported at the end, documents stored and refused.
    pub peer_stored: Option<u64>,
    /// See `peer_stored`.
    pub peer_refused: Option<u64>,
    /// Why documents were refused (the first few).
    pub problems: Vec<String>,
    /// From connecting (or accepting) to the end.
    pub elapsed: Duration,
}

impl SyncStats {
    /// True when no document moved either way.
    pub fn nothing_transferred(&self) -> bool {
        self.docs_sent == 0 && self.docs_received == 0
    }
}
