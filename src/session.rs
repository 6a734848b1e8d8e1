//! One reconciliation with one peer: role, state, limits, and the have/need IDs found so far.

use alloc::vec::Vec;

use negentropy::Negentropy;

use crate::engine::{SnapshotStorage, from_engine_id};
use crate::error::{Error, Limit};
use crate::id::{ID_SIZE, Id};
use crate::id_list::IdList;
use crate::limits::Limits;
use crate::snapshot::Snapshot;
use crate::wire::{self, PROTOCOL_VERSION};

/// The smallest frame size limit the protocol allows (0 means no limit).
pub const MIN_FRAME_SIZE_LIMIT: u64 = 4096;

/// Which side of the exchange a session is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Neither `initiate` nor `reconcile` has been called yet.
    Undecided,
    /// Sent the first message; learns the have/need IDs.
    Initiator,
    /// Answered a peer's first message; learns nothing, only answers.
    Responder,
}

/// Where a session is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// More messages may come or go.
    Running,
    /// The exchange is over for this side.
    Complete,
    /// A call failed; the session refuses further input. Holds the error that ended it.
    Failed(Error),
}

/// What to do after feeding the peer's message to [`Session::reconcile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The message to send to the peer, or `None` when this side has nothing more to send.
    pub reply: Option<Vec<u8>>,
    /// True when the exchange is over for this side.
    pub complete: bool,
}

/// One reconciliation with one peer over a sealed snapshot.
///
/// The initiator calls [`initiate`](Self::initiate), sends the message, and feeds every reply to
/// [`reconcile`](Self::reconcile) until it reports `complete`. A session that never initiated
/// becomes the responder on its first `reconcile`. The responder's `complete` turns true with a
/// reply that holds no fingerprint ranges (send it: the initiator is then certain to finish). The
/// initiator may also finish after a reply that still held one (the responder's frame limit cut
/// it short and the rest already matched), so a responder must also treat the initiator's silence
/// or a closed stream as the end of the exchange.
///
/// Messages must reach [`reconcile`](Self::reconcile) whole: a transport frames them. A message
/// cut inside a field is refused as malformed, but one cut exactly between two ranges reads as a
/// shorter valid message (unmentioned ranges mean "matches"), which no reader can tell apart.
pub struct Session {
    engine: Negentropy<'static, SnapshotStorage>,
    snapshot: Snapshot,
    role: Role,
    state: State,
    limits: Limits,
    have: IdList,
    need: IdList,
    rounds: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("items", &self.snapshot.len())
            .field("role", &self.role)
            .field("state", &self.state)
            .field("rounds", &self.rounds)
            .field("have", &self.have.len())
            .field("need", &self.need.len())
            .finish()
    }
}

impl Session {
    /// A session over `snapshot` with the default [`Limits`].
    ///
    /// `frame_size_limit` bounds every message this side sends: 0 for none, else at least 4096.
    pub fn new(snapshot: Snapshot, frame_size_limit: u64) -> Result<Self, Error> {
        Self::with_limits(snapshot, frame_size_limit, Limits::DEFAULT)
    }

    /// A session over `snapshot` with explicit limits on what the peer may make it do.
    pub fn with_limits(
        snapshot: Snapshot,
        frame_size_limit: u64,
        limits: Limits,
    ) -> Result<Self, Error> {
        if frame_size_limit != 0 && frame_size_limit < MIN_FRAME_SIZE_LIMIT {
            return Err(Error::InvalidArgument(
                "frame_size_limit must be 0 (none) or at least 4096",
            ));
        }
        let engine = Negentropy::owned(SnapshotStorage(snapshot.clone()), frame_size_limit)
            .map_err(|_| Error::Internal("engine refused a valid frame size limit"))?;
        Ok(Self {
            engine,
            snapshot,
            role: Role::Undecided,
            state: State::Running,
            limits,
            have: IdList::default(),
            need: IdList::default(),
            rounds: 0,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// Makes this session the initiator and returns the first message to send.
    pub fn initiate(&mut self) -> Result<Vec<u8>, Error> {
        self.ensure_running()?;
        if self.role != Role::Undecided {
            return Err(Error::WrongState(
                "initiate may be called once, before any reconcile",
            ));
        }
        let message = self
            .engine
            .initiate()
            .map_err(|_| Error::Internal("engine failed to build the first message"))?;
        self.role = Role::Initiator;
        self.bytes_out += message.len() as u64;
        Ok(message)
    }

    /// Feeds one message from the peer; returns what to send back and whether this side is done.
    ///
    /// Any error fails the session for good (a peer that sent one bad message is not trusted with
    /// another), except calls refused for the session's state, which change nothing.
    pub fn reconcile(&mut self, message: &[u8]) -> Result<Step, Error> {
        self.ensure_running()?;
        let result = self.reconcile_running(message);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
        }
        result
    }

    fn ensure_running(&self) -> Result<(), Error> {
        match &self.state {
            State::Running => Ok(()),
            State::Complete => Err(Error::WrongState("the session is already complete")),
            State::Failed(_) => Err(Error::WrongState("the session has failed")),
        }
    }

    fn reconcile_running(&mut self, message: &[u8]) -> Result<Step, Error> {
        if message.len() > self.limits.max_message_size {
            return Err(Error::LimitExceeded(Limit::MessageSize));
        }
        if self.rounds >= self.limits.max_rounds {
            return Err(Error::LimitExceeded(Limit::Rounds));
        }
        self.rounds += 1;
        self.bytes_in += message.len() as u64;

        let version = wire::version(message)?;
        let step = match self.role {
            Role::Initiator if version != PROTOCOL_VERSION => {
                return Err(Error::UnsupportedVersion(version));
            }
            Role::Initiator => self.initiator_step(message)?,
            // A responder answers a version it does not speak with the one it does, and waits.
            Role::Undecided | Role::Responder if version != PROTOCOL_VERSION => {
                self.role = Role::Responder;
                Step {
                    reply: Some(alloc::vec![PROTOCOL_VERSION]),
                    complete: false,
                }
            }
            Role::Undecided | Role::Responder => self.responder_step(message)?,
        };
        if step.complete {
            self.state = State::Complete;
        }
        if let Some(reply) = &step.reply {
            self.bytes_out += reply.len() as u64;
        }
        Ok(step)
    }

    fn initiator_step(&mut self, message: &[u8]) -> Result<Step, Error> {
        wire::validate(message)?;
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = self
            .engine
            .reconcile_with_ids(message, &mut have, &mut need)
            .map_err(|_| Error::Internal("engine rejected a validated message"))?;
        let new_ids = have.len() + need.len();
        let held = self.have.len() + self.need.len();
        if (held + new_ids).saturating_mul(ID_SIZE) > self.limits.max_id_bytes {
            return Err(Error::LimitExceeded(Limit::IdBytes));
        }
        // The engine finds them in hash order; sorting each round keeps a given exchange's lists
        // the same from run to run (logs, tests and transcripts can be compared).
        have.sort_unstable();
        need.sort_unstable();
        have.iter().for_each(|id| self.have.add(from_engine_id(id)));
        need.iter().for_each(|id| self.need.add(from_engine_id(id)));
        Ok(Step {
            complete: next.is_none(),
            reply: next,
        })
    }

    fn responder_step(&mut self, message: &[u8]) -> Result<Step, Error> {
        wire::validate(message)?;
        self.role = Role::Responder;
        let reply = self
            .engine
            .reconcile(message)
            .map_err(|_| Error::Internal("engine rejected a validated message"))?;
        let summary = wire::validate(&reply)
            .map_err(|_| Error::Internal("engine produced a malformed reply"))?;
        Ok(Step {
            // No fingerprint range left means the initiator has nothing to ask: this is the last
            // message of the exchange.
            complete: summary.fingerprint_ranges == 0,
            reply: Some(reply),
        })
    }

    /// Initiator only: IDs we have and the peer lacks, found so far, each once, in the order
    /// found (sorted within each round).
    pub fn have_ids(&self) -> Result<&[Id], Error> {
        self.ensure_initiator()?;
        Ok(self.have.ids())
    }

    /// Initiator only: IDs the peer has and we lack, found so far, each once.
    pub fn need_ids(&self) -> Result<&[Id], Error> {
        self.ensure_initiator()?;
        Ok(self.need.ids())
    }

    fn ensure_initiator(&self) -> Result<(), Error> {
        match self.role {
            Role::Initiator => Ok(()),
            _ => Err(Error::WrongState("only the initiator learns have/need IDs")),
        }
    }

    /// True when the exchange is over for this side.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Which side this session is on.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Running, complete, or failed (with the error that ended it).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The limits this session enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limits; they apply from the next message on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The snapshot this session reads (shared, not copied).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Messages received from the peer so far.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// Bytes received from the peer so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes handed out to send to the peer so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }
}
