//! `negsync_session_stats`: what a session has done so far, for logs and transports.

use super::boundary::{borrow, guard, writable, write};
use super::result::negsync_result;
use super::session::negsync_session;
use crate::{Role, State};

/// Neither initiate nor reconcile has been called yet.
pub const NEGSYNC_ROLE_UNDECIDED: u32 = 0;
/// The session called initiate; it learns the have/need IDs.
pub const NEGSYNC_ROLE_INITIATOR: u32 = 1;
/// The session answered a peer's first message.
pub const NEGSYNC_ROLE_RESPONDER: u32 = 2;

/// A session's counters, copied out by `negsync_session_get_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct negsync_session_stats {
    /// NEGSYNC_ROLE_UNDECIDED, NEGSYNC_ROLE_INITIATOR or NEGSYNC_ROLE_RESPONDER.
    pub role: u32,
    /// True when the exchange is over for this side.
    pub complete: bool,
    /// True when a call failed the session (malformed input, a limit, a panic).
    pub failed: bool,
    /// Messages received from the peer.
    pub rounds: u64,
    /// Bytes received from the peer.
    pub bytes_in: u64,
    /// Bytes handed out to send to the peer.
    pub bytes_out: u64,
    /// IDs in the have list (initiator; 0 otherwise).
    pub have_count: u64,
    /// IDs in the need list (initiator; 0 otherwise).
    pub need_count: u64,
}

/// Copies the session's counters to `*out`. Reading does not change the session.
///
/// # Safety
/// `session` is a live session; `out` points to a writable `negsync_session_stats`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_get_stats(
    session: *const negsync_session,
    out: *mut negsync_session_stats,
) -> negsync_result {
    guard(|| {
        let handle = unsafe { borrow(session) }?;
        let out = writable(out)?;
        let session = &handle.inner.session;
        let (have_count, need_count) = session.found_counts().unwrap_or((0, 0));
        let stats = negsync_session_stats {
            role: match session.role() {
                Role::Undecided => NEGSYNC_ROLE_UNDECIDED,
                Role::Initiator => NEGSYNC_ROLE_INITIATOR,
                Role::Responder => NEGSYNC_ROLE_RESPONDER,
            },
            complete: !handle.record.is_poisoned() && session.is_complete(),
            failed: handle.record.is_poisoned() || matches!(session.state(), State::Failed(_)),
            rounds: session.rounds(),
            bytes_in: session.bytes_in(),
            bytes_out: session.bytes_out(),
            have_count,
            need_count,
        };
        unsafe { write(out, stats) };
        Ok(())
    })
}
