//! One reconciliation with one peer: role, state, limits, and the have/need IDs found so far.

use alloc::vec::Vec;

use crate::engine::{Engine, Side};
use crate::error::{Error, Limit};
use crate::id::{ID_SIZE, Id};
use crate::id_list::IdList;
use crate::limits::Limits;
use crate::snapshot::Snapshot;
use crate::wire::{self, PROTOCOL_VERSION};

/// The smallest frame size limit a session accepts (0 means no limit).
///
/// From 4,096 bytes on (and with no limit) messages are byte for byte those of the `negentropy`
/// crate and every other V1 implementation. From 128 to 4,095 bytes (radio links) the framing is
/// negsync's own; any V1 peer reads it. 128 bytes carry every exchange whose timestamps are
/// below 2^42 (milliseconds since 1970 until the year 2109; any time in seconds), whatever the
/// IDs. Above that, a message's first bound can take 10 bytes for its timestamp alone, and IDs
/// sharing 31 bytes at one timestamp (never the case for hashes) can need 132 bytes: below that
/// such an exchange fails with [`Limit::FrameSize`], never with a message over the limit or a
/// wrong result.
pub const MIN_FRAME_SIZE_LIMIT: u64 = crate::engine::MIN_FRAME_SIZE_LIMIT;

/// What a message may pass its frame limit by while it is written, before a piece that does not
/// fit is taken back. Under 4,096 bytes (radio framing) at most one range passes the room left
/// for the closing range (19 bytes): a bound of at most 44 bytes, its mode and a 16-byte
/// fingerprint, or an ID list's header; so a message never passes its limit by more than 42
/// bytes while it is written. (From 4,096 bytes on, a split of up to 16 ranges may be written
/// and taken back: the buffer then grows once.)
const MESSAGE_SLACK: usize = 48;

/// Buffers are sized up front only for frame limits up to this (radio links and the 4,096 bytes
/// of other V1 implementations, with room to spare); a session with a larger limit, or none,
/// grows its buffers as messages fill them.
const MOST_RESERVED_FRAME: usize = 16 * 1024;

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

/// [`Step`] with the reply lent from the session's own buffer (see
/// [`Session::reconcile_lent`]): valid until the session's next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentStep<'a> {
    /// The message to send to the peer, or `None` when this side has nothing more to send.
    pub reply: Option<&'a [u8]>,
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
    engine: Engine,
    snapshot: Snapshot,
    role: Role,
    state: State,
    limits: Limits,
    /// The frame size limit in bytes (0: none), which sizes the buffers the session keeps.
    frame_size_limit: usize,
    have: IdList,
    need: IdList,
    rounds: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// Which buffer a step's reply is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// The engine's message buffer.
    Engine,
    /// Just our version byte: the answer to a peer of another version.
    Version,
    /// Nothing to send.
    Nothing,
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
    /// `frame_size_limit` bounds every message this side sends: 0 for none, else at least
    /// [`MIN_FRAME_SIZE_LIMIT`] (128).
    pub fn new(snapshot: Snapshot, frame_size_limit: u64) -> Result<Self, Error> {
        Self::with_limits(snapshot, frame_size_limit, Limits::DEFAULT)
    }

    /// A session over `snapshot` with explicit limits on what the peer may make it do.
    pub fn with_limits(
        snapshot: Snapshot,
        frame_size_limit: u64,
        limits: Limits,
    ) -> Result<Self, Error> {
        let all = 0..snapshot.len();
        Self::over(snapshot, all, frame_size_limit, limits)
    }

    /// A session over only the items whose timestamps fall in `[from, to)`: a view of the
    /// snapshot, nothing copied. Both peers must use the same window; items outside it are
    /// never compared and never appear in have/need.
    pub fn with_window(
        snapshot: Snapshot,
        from: u64,
        to: u64,
        frame_size_limit: u64,
        limits: Limits,
    ) -> Result<Self, Error> {
        if from > to {
            return Err(Error::InvalidArgument(
                "a window's start must not pass its end",
            ));
        }
        let window = snapshot.window(from, to);
        Self::over(snapshot, window, frame_size_limit, limits)
    }

    fn over(
        snapshot: Snapshot,
        items: core::ops::Range<usize>,
        frame_size_limit: u64,
        limits: Limits,
    ) -> Result<Self, Error> {
        let engine = Engine::new(frame_size_limit, items.start, items.end)?;
        Ok(Self {
            engine,
            snapshot,
            role: Role::Undecided,
            state: State::Running,
            limits,
            frame_size_limit: usize::try_from(frame_size_limit).unwrap_or(usize::MAX),
            have: IdList::default(),
            need: IdList::default(),
            rounds: 0,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// Makes this session the initiator and returns the first message to send.
    pub fn initiate(&mut self) -> Result<Vec<u8>, Error> {
        self.initiate_lent().map(<[u8]>::to_vec)
    }

    /// [`initiate`](Self::initiate), with the message lent from the session's own buffer.
    pub fn initiate_lent(&mut self) -> Result<&[u8], Error> {
        self.ensure_running()?;
        if self.role != Role::Undecided {
            return Err(Error::WrongState(
                "initiate may be called once, before any reconcile",
            ));
        }
        let started = self
            .reserve(Role::Initiator)
            .and_then(|()| self.engine.initiate(&self.snapshot));
        if let Err(error) = started {
            self.state = State::Failed(error.clone());
            return Err(error);
        }
        self.role = Role::Initiator;
        self.bytes_out += self.engine.message().len() as u64;
        Ok(self.engine.message())
    }

    /// Feeds one message from the peer; returns what to send back and whether this side is done.
    ///
    /// Any error fails the session for good (a peer that sent one bad message is not trusted with
    /// another), except calls refused for the session's state, which change nothing.
    pub fn reconcile(&mut self, message: &[u8]) -> Result<Step, Error> {
        let step = self.reconcile_lent(message)?;
        Ok(Step {
            reply: step.reply.map(<[u8]>::to_vec),
            complete: step.complete,
        })
    }

    /// [`reconcile`](Self::reconcile), with the reply lent from the session's own buffer: no
    /// allocation unless a buffer the session keeps must grow.
    pub fn reconcile_lent(&mut self, message: &[u8]) -> Result<LentStep<'_>, Error> {
        self.ensure_running()?;
        match self.reconcile_running(message) {
            Ok(reply) => {
                let reply = match reply {
                    Reply::Engine => Some(self.engine.message()),
                    Reply::Version => Some(&[PROTOCOL_VERSION][..]),
                    Reply::Nothing => None,
                };
                Ok(LentStep {
                    reply,
                    complete: self.state == State::Complete,
                })
            }
            Err(error) => {
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    fn ensure_running(&self) -> Result<(), Error> {
        match &self.state {
            State::Running => Ok(()),
            State::Complete => Err(Error::WrongState("the session is already complete")),
            State::Failed(_) => Err(Error::WrongState("the session has failed")),
        }
    }

    fn reconcile_running(&mut self, message: &[u8]) -> Result<Reply, Error> {
        if message.len() > self.limits.max_message_size {
            return Err(Error::LimitExceeded(Limit::MessageSize));
        }
        if self.rounds >= self.limits.max_rounds {
            return Err(Error::LimitExceeded(Limit::Rounds));
        }
        self.rounds += 1;
        self.bytes_in += message.len() as u64;

        let version = wire::version(message)?;
        let (reply, complete) = match self.role {
            Role::Initiator if version != PROTOCOL_VERSION => {
                return Err(Error::UnsupportedVersion(version));
            }
            Role::Initiator => self.initiator_step(message)?,
            // A responder answers a version it does not speak with the one it does, and waits.
            Role::Undecided | Role::Responder if version != PROTOCOL_VERSION => {
                self.role = Role::Responder;
                self.bytes_out += 1;
                return Ok(Reply::Version);
            }
            Role::Undecided => {
                self.reserve(Role::Responder)?;
                self.responder_step(message)?
            }
            Role::Responder => self.responder_step(message)?,
        };
        if complete {
            self.state = State::Complete;
        }
        if reply == Reply::Engine {
            self.bytes_out += self.engine.message().len() as u64;
        }
        Ok(reply)
    }

    fn initiator_step(&mut self, message: &[u8]) -> Result<(Reply, bool), Error> {
        // The engine appends what it finds to the kept lists (no copy through per-round lists),
        // making room in them as it goes with `try_reserve` (running out of memory is then an
        // error, not an abort); the lists then keep each new ID once.
        let (have_start, need_start) = (self.have.len(), self.need.len());
        let found = self.engine.reconcile(
            &self.snapshot,
            message,
            Side::Initiator,
            self.have.raw(),
            self.need.raw(),
        );
        let held = have_start + need_start;
        let new_ids = self.have.len() - have_start + self.need.len() - need_start;
        let checked = found.and_then(|_| {
            match (held + new_ids).saturating_mul(ID_SIZE) > self.limits.max_id_bytes {
                true => Err(Error::LimitExceeded(Limit::IdBytes)),
                false => Ok(()),
            }
        });
        if let Err(error) = checked {
            self.have.truncate(have_start);
            self.need.truncate(need_start);
            return Err(error);
        }
        // Sorted within each round: a given exchange's lists are the same from run to run.
        self.have.absorb(have_start);
        self.need.absorb(need_start);
        // A message with no ranges is never sent: the initiator is done.
        Ok(match self.engine.message().len() {
            1 => (Reply::Nothing, true),
            _ => (Reply::Engine, false),
        })
    }

    /// Sizes the buffers this side keeps from the frame limit, once, when its role is decided
    /// (with `try_reserve`: a refusal is [`Error::OutOfMemory`], not an abort). A message
    /// buffer of the limit and the ID-matching scratch for one frame's IDs; for an initiator also
    /// the have/need lists for half a frame of IDs each, which grow if a sync finds more. Afterwards a round allocates only when one of these must grow.
    /// With no limit nothing bounds a message, and buffers grow as they fill; so they do above
    /// [`MOST_RESERVED_FRAME`], where reserving the limit would hold memory no message needs.
    fn reserve(&mut self, role: Role) -> Result<(), Error> {
        if self.frame_size_limit == 0 || self.frame_size_limit > MOST_RESERVED_FRAME {
            return Ok(());
        }
        let message = self.frame_size_limit.saturating_add(MESSAGE_SLACK);
        let ids = self.frame_size_limit / ID_SIZE;
        if role == Role::Responder {
            self.engine.try_reserve(message, 0)?;
            return Ok(());
        }
        self.engine.try_reserve(message, ids)?;
        self.have.try_reserve(ids / 2)?;
        self.need.try_reserve(ids / 2)?;
        Ok(())
    }

    fn responder_step(&mut self, message: &[u8]) -> Result<(Reply, bool), Error> {
        // A responder learns nothing: the lists stay empty.
        let written = self.engine.reconcile(
            &self.snapshot,
            message,
            Side::Responder,
            self.have.raw(),
            self.need.raw(),
        )?;
        self.role = Role::Responder;
        // No fingerprint range left means the initiator has nothing to ask: this is the last
        // message of the exchange.
        Ok((Reply::Engine, written.fingerprint_ranges == 0))
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

    /// Initiator only: forgets the have/need IDs found so far, keeping the room they took, so
    /// that the lists hold only what later rounds find. For a node that acts on IDs as each
    /// round brings them (a microcontroller sending and asking for documents as it goes): its
    /// memory is then bounded by a round's findings, not by the number of differences. A
    /// forgotten ID can be listed again: under frame limits a V1 peer's cut ends its message
    /// with one fingerprint over everything after the cut, so ranges already settled there are
    /// looked at again (and a faulty or hostile peer can repeat any ID). Act on IDs
    /// idempotently.
    pub fn forget_ids(&mut self) -> Result<(), Error> {
        self.ensure_initiator()?;
        self.have.clear();
        self.need.clear();
        Ok(())
    }

    /// Initiator only: how many have and need IDs were found in all, forgotten ones included.
    pub fn found_counts(&self) -> Result<(u64, u64), Error> {
        self.ensure_initiator()?;
        Ok((self.have.total(), self.need.total()))
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
