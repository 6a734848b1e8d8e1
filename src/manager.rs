//! Sessions with many peers at once: at most one outbound and one inbound session per peer, a
//! bound on how many live at a time, expiry by the caller's clock, and counters.

use crate::lock::Arc;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::error::Error;
use crate::id::Id;
use crate::limits::Limits;
use crate::session::Session;
use crate::set::ItemSet;

/// Bytes in a [`PeerId`].
pub const PEER_ID_SIZE: usize = 32;

/// A peer, as the mesh knows it: an iroh `EndpointId` (a 32-byte ed25519 public key), or any
/// other 32-byte name the application gives its peers.
pub type PeerId = [u8; PEER_ID_SIZE];

/// Which side of a sync with a peer a message belongs to. The transport knows it (one stream per
/// session): a peer's reply to our sync is `Outbound`, a peer's own sync toward us is `Inbound`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// We initiated; we learn have/need.
    Outbound,
    /// The peer initiated; we answer.
    Inbound,
}

/// How a manager bounds its work. Times are in the caller's clock units (any monotonic counter:
/// milliseconds, ticks), so firmware without threads can drive expiry itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The most sessions alive at once; starting one more evicts the one idle longest.
    pub max_sessions: usize,
    /// A session not touched for this long is removed by [`SyncManager::expire`].
    pub idle_timeout: u64,
    /// The frame size limit of every session (0 = none, else at least
    /// [`MIN_FRAME_SIZE_LIMIT`](crate::MIN_FRAME_SIZE_LIMIT)).
    pub frame_size_limit: u64,
    /// The limits of every session.
    pub limits: Limits,
}

impl ManagerConfig {
    /// 64 sessions, a timeout of 30,000 (30 s in milliseconds), no frame limit, default limits.
    pub const DEFAULT: ManagerConfig = ManagerConfig {
        max_sessions: 64,
        idle_timeout: 30_000,
        frame_size_limit: 0,
        limits: Limits::DEFAULT,
    };
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a manager has done since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Syncs we initiated.
    pub started_outbound: u64,
    /// Syncs a peer initiated toward us.
    pub started_inbound: u64,
    /// Sessions that reached `complete`.
    pub completed: u64,
    /// Sessions that failed (malformed message, limit, unsupported version).
    pub failed: u64,
    /// Sessions removed for being idle past the timeout.
    pub expired: u64,
    /// Sessions removed to make room for a new one.
    pub evicted: u64,
    /// Sessions ended by the application (stream closed, peer gone).
    pub closed: u64,
    /// Messages received from peers.
    pub rounds: u64,
    /// Bytes received from peers.
    pub bytes_in: u64,
    /// Bytes handed out to send to peers.
    pub bytes_out: u64,
    /// IDs reported as "have" by completed outbound syncs.
    pub have_total: u64,
    /// IDs reported as "need" by completed outbound syncs.
    pub need_total: u64,
    /// Sessions alive now.
    pub live: u64,
}

/// The result of [`SyncManager::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// The message to send back to the peer, or `None`.
    pub reply: Option<Vec<u8>>,
    /// True when this session is over (and already removed from the manager).
    pub complete: bool,
    /// For an outbound sync that just completed: IDs we have and the peer lacks.
    pub have: Vec<Id>,
    /// For an outbound sync that just completed: IDs the peer has and we lack.
    pub need: Vec<Id>,
}

struct Live {
    session: Session,
    last_active: u64,
}

/// Per-peer sessions over one shared [`ItemSet`].
///
/// Every session reads the set's snapshot as it was when the session began. A session that
/// completes, fails, expires or is closed is removed at once: nothing accumulates across syncs.
pub struct SyncManager {
    set: Arc<ItemSet>,
    config: ManagerConfig,
    sessions: BTreeMap<(PeerId, Direction), Live>,
    stats: ManagerStats,
}

impl SyncManager {
    /// A manager serving `set`. Refuses a `max_sessions` of 0 or an invalid frame size limit.
    pub fn new(set: Arc<ItemSet>, config: ManagerConfig) -> Result<Self, Error> {
        if config.max_sessions == 0 {
            return Err(Error::InvalidArgument("max_sessions must be at least 1"));
        }
        // The same check every session makes, made once up front.
        Session::with_limits(
            crate::Snapshot::default(),
            config.frame_size_limit,
            config.limits,
        )?;
        Ok(Self {
            set,
            config,
            sessions: BTreeMap::new(),
            stats: ManagerStats::default(),
        })
    }

    /// Begins a sync toward `peer` and returns the first message to send it.
    /// `WrongState` when an outbound sync with that peer is already running.
    pub fn start(&mut self, peer: PeerId, now: u64) -> Result<Vec<u8>, Error> {
        let key = (peer, Direction::Outbound);
        if self.sessions.contains_key(&key) {
            return Err(Error::WrongState(
                "an outbound sync with this peer is already running",
            ));
        }
        let mut session = self.new_session()?;
        let first = session.initiate()?;
        self.admit(key, session, now);
        self.stats.started_outbound += 1;
        self.stats.bytes_out += first.len() as u64;
        Ok(first)
    }

    /// Feeds one message from `peer`. An `Inbound` message with no inbound session begins one
    /// (a peer's first message); an `Outbound` one must answer a sync we started. Any error fails
    /// and removes that session (and only it); a new session that fails never took a place.
    ///
    /// When the transport has one stream per session, call [`close`](Self::close) when an
    /// inbound stream ends. Without streams, an inbound session idle past the timeout is taken
    /// as over when its peer writes again, so the peer's next sync sees the set as it is then.
    pub fn handle(
        &mut self,
        peer: PeerId,
        direction: Direction,
        message: &[u8],
        now: u64,
    ) -> Result<Handled, Error> {
        let key = (peer, direction);
        // The session leaves the map while it works: a new one earns its place (and may evict
        // another) only once its first message has proved valid.
        let (mut session, is_new) = match self.sessions.remove(&key) {
            // A responder cannot tell when an exchange ended quietly: one idle past the timeout
            // is taken as over, and the peer's next sync is answered from the set as it is now.
            Some(live)
                if direction == Direction::Inbound
                    && now.saturating_sub(live.last_active) > self.config.idle_timeout =>
            {
                self.stats.expired += 1;
                (self.new_session()?, true)
            }
            Some(live) => (live.session, false),
            None if direction == Direction::Outbound => {
                self.stats.live = self.sessions.len() as u64;
                return Err(Error::WrongState(
                    "no outbound sync with this peer is running",
                ));
            }
            None => (self.new_session()?, true),
        };
        if is_new {
            self.stats.started_inbound += 1;
        }
        self.stats.rounds += 1;
        self.stats.bytes_in += message.len() as u64;
        let step = match session.reconcile(message) {
            Ok(step) => step,
            Err(error) => {
                self.stats.failed += 1;
                self.stats.live = self.sessions.len() as u64;
                return Err(error);
            }
        };
        let mut handled = Handled {
            complete: step.complete,
            reply: step.reply,
            have: Vec::new(),
            need: Vec::new(),
        };
        if let Some(reply) = &handled.reply {
            self.stats.bytes_out += reply.len() as u64;
        }
        if handled.complete {
            if direction == Direction::Outbound {
                handled.have = session.have_ids()?.to_vec();
                handled.need = session.need_ids()?.to_vec();
                self.stats.have_total += handled.have.len() as u64;
                self.stats.need_total += handled.need.len() as u64;
            }
            self.stats.completed += 1;
        } else {
            self.admit(key, session, now);
        }
        self.stats.live = self.sessions.len() as u64;
        Ok(handled)
    }

    /// Ends a session because its stream closed or its peer is gone. For an inbound session
    /// this is also how an exchange ends whose last reply the responder could not know was last.
    /// Returns whether there was such a session.
    pub fn close(&mut self, peer: PeerId, direction: Direction) -> bool {
        let removed = self.sessions.remove(&(peer, direction)).is_some();
        if removed {
            self.stats.closed += 1;
            self.stats.live = self.sessions.len() as u64;
        }
        removed
    }

    /// Removes every session idle for longer than the timeout at time `now`; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let timeout = self.config.idle_timeout;
        let before = self.sessions.len();
        self.sessions
            .retain(|_, live| now.saturating_sub(live.last_active) <= timeout);
        let expired = before - self.sessions.len();
        self.stats.expired += expired as u64;
        self.stats.live = self.sessions.len() as u64;
        expired
    }

    /// True when a session with this peer in this direction is alive.
    pub fn is_active(&self, peer: &PeerId, direction: Direction) -> bool {
        self.sessions.contains_key(&(*peer, direction))
    }

    /// The counters.
    pub fn stats(&self) -> ManagerStats {
        self.stats
    }

    /// The configuration this manager runs with.
    pub fn config(&self) -> ManagerConfig {
        self.config
    }

    /// The set this manager serves.
    pub fn set(&self) -> &Arc<ItemSet> {
        &self.set
    }

    fn new_session(&self) -> Result<Session, Error> {
        Session::with_limits(
            self.set.snapshot(),
            self.config.frame_size_limit,
            self.config.limits,
        )
    }

    /// Adds a session, first evicting the one idle longest when the manager is full.
    fn admit(&mut self, key: (PeerId, Direction), session: Session, now: u64) {
        if self.sessions.len() >= self.config.max_sessions {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, live)| live.last_active)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.sessions.remove(&oldest);
                self.stats.evicted += 1;
            }
        }
        self.sessions.insert(
            key,
            Live {
                session,
                last_active: now,
            },
        );
        self.stats.live = self.sessions.len() as u64;
    }
}
