//! `negsync_manager`: sessions with many peers over one set, bounded and expiring.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_char;

use super::boundary::{borrow, bytes, guard, guard_value, id, writable, write};
use super::call::{CallRecord, Handle, with_handle};
use super::limits::negsync_limits;
use super::result::{NEGSYNC_INVALID_ARGUMENT, code_of, negsync_result};
use super::set::negsync_set;
use crate::{Direction, Id, Limits, ManagerConfig, ManagerStats, PEER_ID_SIZE, SyncManager};

/// Bytes in a peer ID (an iroh EndpointId, or any 32-byte name the application gives peers).
pub const NEGSYNC_PEER_ID_SIZE: usize = 32;
const _: () = assert!(NEGSYNC_PEER_ID_SIZE == PEER_ID_SIZE);

/// The message belongs to a sync we started (the peer's reply).
pub const NEGSYNC_DIRECTION_OUTBOUND: u32 = 0;
/// The message belongs to a sync the peer started toward us.
pub const NEGSYNC_DIRECTION_INBOUND: u32 = 1;

/// How a manager bounds its work; start from `negsync_manager_config_default`. Times are in the
/// caller's clock units (milliseconds, ticks: any monotonic counter).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct negsync_manager_config {
    /// The most sessions alive at once; one more evicts the one idle longest (default 64).
    pub max_sessions: u64,
    /// A session idle for longer than this is removed by `negsync_manager_expire` (default 30000).
    pub idle_timeout: u64,
    /// Frame size limit of every session: 0 for none, else at least `NEGSYNC_MIN_FRAME_SIZE_LIMIT`
    /// (default 0).
    pub frame_size_limit: u64,
    /// Limits of every session (default: `negsync_limits_default`).
    pub limits: negsync_limits,
}

/// What a manager has done since it was made (see `negsync_manager_get_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct negsync_manager_stats {
    /// Syncs we initiated.
    pub started_outbound: u64,
    /// Syncs a peer initiated toward us.
    pub started_inbound: u64,
    /// Sessions that reached completion.
    pub completed: u64,
    /// Sessions that failed (malformed message, limit, unsupported version).
    pub failed: u64,
    /// Sessions removed for being idle past the timeout.
    pub expired: u64,
    /// Sessions removed to make room for a new one.
    pub evicted: u64,
    /// Sessions ended with `negsync_manager_close`.
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

/// What `negsync_manager_handle` produced. Every pointer is borrowed from the manager and stays
/// valid until the next mutating call on it or its free; a pointer is NULL when its length is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct negsync_handled {
    /// The message to send back to the peer (`reply_len == 0`: send nothing).
    pub reply: *const u8,
    /// Bytes in `reply`.
    pub reply_len: usize,
    /// True when this session is over; the manager has already removed it.
    pub complete: bool,
    /// Outbound sync just completed: `have_count * NEGSYNC_ID_SIZE` bytes of IDs we have and the
    /// peer lacks.
    pub have_ids: *const u8,
    /// IDs in `have_ids`.
    pub have_count: usize,
    /// Outbound sync just completed: `need_count * NEGSYNC_ID_SIZE` bytes of IDs the peer has and
    /// we lack.
    pub need_ids: *const u8,
    /// IDs in `need_ids`.
    pub need_count: usize,
}

/// Sessions with many peers over one set: at most one outbound and one inbound session per peer,
/// a bound on live sessions, idle expiry. Not internally synchronized: use it from one thread at a
/// time (it may move between threads).
pub struct negsync_manager {
    record: CallRecord,
    inner: ManagerInner,
}

pub(crate) struct ManagerInner {
    manager: SyncManager,
    /// The message lent out by the last start/handle, and the IDs of a just-completed sync.
    message: Vec<u8>,
    have: Vec<Id>,
    need: Vec<Id>,
}

impl From<ManagerConfig> for negsync_manager_config {
    fn from(config: ManagerConfig) -> Self {
        Self {
            max_sessions: config.max_sessions as u64,
            idle_timeout: config.idle_timeout,
            frame_size_limit: config.frame_size_limit,
            limits: config.limits.into(),
        }
    }
}

impl From<ManagerStats> for negsync_manager_stats {
    fn from(stats: ManagerStats) -> Self {
        Self {
            started_outbound: stats.started_outbound,
            started_inbound: stats.started_inbound,
            completed: stats.completed,
            failed: stats.failed,
            expired: stats.expired,
            evicted: stats.evicted,
            closed: stats.closed,
            rounds: stats.rounds,
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
            have_total: stats.have_total,
            need_total: stats.need_total,
            live: stats.live,
        }
    }
}

fn core_config(config: &negsync_manager_config) -> Result<ManagerConfig, negsync_result> {
    Ok(ManagerConfig {
        max_sessions: usize::try_from(config.max_sessions).map_err(|_| NEGSYNC_INVALID_ARGUMENT)?,
        idle_timeout: config.idle_timeout,
        frame_size_limit: config.frame_size_limit,
        limits: Limits::try_from(&config.limits)?,
    })
}

/// A peer ID is 32 bytes, like a document ID.
///
/// # Safety
/// `peer` is NULL or points to 32 readable bytes.
unsafe fn peer_id(peer: *const u8) -> Result<[u8; PEER_ID_SIZE], negsync_result> {
    unsafe { id(peer) }.map(|id| id.0)
}

fn direction(value: u32) -> Result<Direction, negsync_result> {
    match value {
        NEGSYNC_DIRECTION_OUTBOUND => Ok(Direction::Outbound),
        NEGSYNC_DIRECTION_INBOUND => Ok(Direction::Inbound),
        _ => Err(NEGSYNC_INVALID_ARGUMENT),
    }
}

fn lend(ids: &[Id]) -> *const u8 {
    match ids.is_empty() {
        true => core::ptr::null(),
        // `Id` is `repr(transparent)` over `[u8; 32]`: the list is `len * 32` contiguous bytes.
        false => ids.as_ptr().cast::<u8>(),
    }
}

impl Handle for negsync_manager {
    type Inner = ManagerInner;
    fn split(&mut self) -> (&mut CallRecord, &mut ManagerInner) {
        (&mut self.record, &mut self.inner)
    }
}

/// Writes the default configuration to `*out`. Thread-safe.
///
/// # Safety
/// `out` points to a writable `negsync_manager_config`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_config_default(
    out: *mut negsync_manager_config,
) -> negsync_result {
    guard(|| {
        let out = writable(out)?;
        unsafe { write(out, ManagerConfig::DEFAULT.into()) };
        Ok(())
    })
}

/// Creates a manager serving `set` in `*out`; it keeps the set alive until the manager is freed.
/// Each session reads the set's snapshot as of when that session begins. A `max_sessions` of 0 or
/// a frame limit of 1..4095 is `NEGSYNC_INVALID_ARGUMENT`. Free it with `negsync_manager_free`.
///
/// # Safety
/// `set` is a live set; `config` points to a readable config; `out` to storage for one pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_new(
    set: *const negsync_set,
    config: *const negsync_manager_config,
    out: *mut *mut negsync_manager,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let config = core_config(unsafe { borrow(config) }?)?;
        let out = writable(out)?;
        let manager = SyncManager::new(set.set.clone(), config).map_err(|e| code_of(&e))?;
        let handle = Box::new(negsync_manager {
            record: CallRecord::default(),
            inner: ManagerInner {
                manager,
                message: Vec::new(),
                have: Vec::new(),
                need: Vec::new(),
            },
        });
        unsafe { write(out, Box::into_raw(handle)) };
        Ok(())
    })
}

/// Begins a sync toward the 32-byte `peer` at time `now` and lends out the first message to send
/// it in `*msg`/`*msg_len` (valid until the next mutating call on the manager or its free).
/// `NEGSYNC_WRONG_STATE` when an outbound sync with that peer is already running.
///
/// # Safety
/// `manager` is a live manager; `peer` points to 32 readable bytes; `msg`, `msg_len` are writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_start(
    manager: *mut negsync_manager,
    peer: *const u8,
    now: u64,
    msg: *mut *const u8,
    msg_len: *mut usize,
) -> negsync_result {
    let checked = writable(msg)
        .and(writable(msg_len))
        .and_then(|_| unsafe { peer_id(peer) });
    unsafe {
        with_handle(manager, checked, |inner, peer| {
            inner.message = inner.manager.start(peer, now)?;
            write(msg, inner.message.as_ptr());
            write(msg_len, inner.message.len());
            Ok(())
        })
    }
}

/// Feeds one whole message from `peer` at time `now`. `direction` says which sync it belongs to:
/// `NEGSYNC_DIRECTION_OUTBOUND` for a reply to a sync we started, `NEGSYNC_DIRECTION_INBOUND` for
/// a sync the peer started (its first message begins a session). On success `*out` holds the
/// reply to send and, when an outbound sync just completed, its have/need IDs; a completed
/// session is removed. Any error fails and removes that session alone; see
/// `negsync_manager_last_error`.
///
/// # Safety
/// `manager` is a live manager; `peer` points to 32 readable bytes; `msg` to `msg_len` bytes;
/// `out` to a writable `negsync_handled`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_handle(
    manager: *mut negsync_manager,
    peer: *const u8,
    direction: u32,
    msg: *const u8,
    msg_len: usize,
    now: u64,
    out: *mut negsync_handled,
) -> negsync_result {
    let checked = writable(out).and_then(|_| {
        let peer = unsafe { peer_id(peer) }?;
        let message = unsafe { bytes(msg, msg_len) }?;
        Ok((peer, self::direction(direction)?, message))
    });
    unsafe {
        with_handle(manager, checked, |inner, (peer, direction, message)| {
            let handled = inner.manager.handle(peer, direction, message, now)?;
            inner.message = handled.reply.unwrap_or_default();
            inner.have = handled.have;
            inner.need = handled.need;
            write(
                out,
                negsync_handled {
                    reply: lend_bytes(&inner.message),
                    reply_len: inner.message.len(),
                    complete: handled.complete,
                    have_ids: lend(&inner.have),
                    have_count: inner.have.len(),
                    need_ids: lend(&inner.need),
                    need_count: inner.need.len(),
                },
            );
            Ok(())
        })
    }
}

fn lend_bytes(bytes: &[u8]) -> *const u8 {
    match bytes.is_empty() {
        true => core::ptr::null(),
        false => bytes.as_ptr(),
    }
}

/// Ends the session with `peer` in `direction` because its stream closed or the peer is gone
/// (for an inbound session, also how an exchange ends whose last reply could not be known as
/// last). `*closed` tells whether there was such a session.
///
/// # Safety
/// `manager` is a live manager; `peer` points to 32 readable bytes; `closed` is writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_close(
    manager: *mut negsync_manager,
    peer: *const u8,
    direction: u32,
    closed: *mut bool,
) -> negsync_result {
    let checked = writable(closed).and_then(|_| {
        let peer = unsafe { peer_id(peer) }?;
        Ok((peer, self::direction(direction)?))
    });
    unsafe {
        with_handle(manager, checked, |inner, (peer, direction)| {
            write(closed, inner.manager.close(peer, direction));
            Ok(())
        })
    }
}

/// Removes every session idle for longer than the configured timeout at time `now`, and writes
/// how many to `*expired`. Call it from the application's timer or main loop.
///
/// # Safety
/// `manager` is a live manager; `expired` is writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_expire(
    manager: *mut negsync_manager,
    now: u64,
    expired: *mut usize,
) -> negsync_result {
    unsafe {
        with_handle(manager, writable(expired), |inner, _| {
            write(expired, inner.manager.expire(now));
            Ok(())
        })
    }
}

/// Copies the manager's counters to `*out`. Reading does not change the manager.
///
/// # Safety
/// `manager` is a live manager; `out` points to a writable `negsync_manager_stats`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_get_stats(
    manager: *const negsync_manager,
    out: *mut negsync_manager_stats,
) -> negsync_result {
    guard(|| {
        let handle = unsafe { borrow(manager) }?;
        let out = writable(out)?;
        unsafe { write(out, handle.inner.manager.stats().into()) };
        Ok(())
    })
}

/// Why the last mutating call on this manager failed ("" after one that succeeded); owned by the
/// manager, valid until its next mutating call or its free. For NULL, a static string. Never NULL.
///
/// # Safety
/// `manager` is NULL or a live manager.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_last_error(
    manager: *const negsync_manager,
) -> *const c_char {
    let null_manager = c"manager is NULL".as_ptr();
    guard_value(null_manager, || match unsafe { borrow(manager) } {
        Ok(handle) => handle.record.last_error(),
        Err(_) => null_manager,
    })
}

/// Frees a manager, its sessions and every buffer it lent out; NULL is a no-op.
///
/// # Safety
/// `manager` is NULL or a manager from `negsync_manager_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_manager_free(manager: *mut negsync_manager) {
    guard_value((), || {
        if !manager.is_null() {
            drop(unsafe { Box::from_raw(manager) });
        }
    })
}
