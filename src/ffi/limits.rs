//! `negsync_limits`: what a peer may make one session do, at most.

use super::boundary::{borrow, guard, writable, write};
use super::call::with_handle;
use super::result::{NEGSYNC_INVALID_ARGUMENT, negsync_result};
use super::session::negsync_session;
use crate::Limits;

/// Per-session limits. Exceeding one fails the session with `NEGSYNC_LIMIT_EXCEEDED`.
/// Start from `negsync_limits_default` and lower what your device needs lowered.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct negsync_limits {
    /// The largest message accepted from the peer, in bytes (default 64 MiB).
    pub max_message_size: u64,
    /// The most messages accepted from the peer in one session (default 100000).
    pub max_rounds: u64,
    /// The most bytes the have and need lists may hold together, 32 per ID (default 64 MiB).
    pub max_id_bytes: u64,
}

impl From<Limits> for negsync_limits {
    fn from(limits: Limits) -> Self {
        Self {
            max_message_size: limits.max_message_size as u64,
            max_rounds: limits.max_rounds,
            max_id_bytes: limits.max_id_bytes as u64,
        }
    }
}

impl TryFrom<&negsync_limits> for Limits {
    type Error = negsync_result;

    /// A value that does not fit this platform's size_t is `NEGSYNC_INVALID_ARGUMENT`.
    fn try_from(limits: &negsync_limits) -> Result<Self, negsync_result> {
        let size = |value: u64| usize::try_from(value).map_err(|_| NEGSYNC_INVALID_ARGUMENT);
        Ok(Limits {
            max_message_size: size(limits.max_message_size)?,
            max_rounds: limits.max_rounds,
            max_id_bytes: size(limits.max_id_bytes)?,
        })
    }
}

/// Writes the default limits to `*out`. Thread-safe.
///
/// # Safety
/// `out` points to a writable `negsync_limits`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_limits_default(out: *mut negsync_limits) -> negsync_result {
    guard(|| {
        let out = writable(out)?;
        unsafe { write(out, Limits::DEFAULT.into()) };
        Ok(())
    })
}

/// Replaces the session's limits (copied); they apply from the next message on. A value that does
/// not fit this platform's size_t is `NEGSYNC_INVALID_ARGUMENT`. A mutating call: it resets
/// `negsync_session_last_error` and ends the life of buffers the session lent out.
///
/// # Safety
/// `session` is a live session used by no other thread; `limits` points to a readable struct.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_set_limits(
    session: *mut negsync_session,
    limits: *const negsync_limits,
) -> negsync_result {
    let converted = unsafe { borrow(limits) }.and_then(Limits::try_from);
    unsafe {
        with_handle(session, converted, |inner, limits| {
            inner.session.set_limits(limits);
            Ok(())
        })
    }
}

/// Writes the session's current limits to `*out`.
///
/// # Safety
/// `session` is a live session; `out` points to a writable `negsync_limits`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_get_limits(
    session: *const negsync_session,
    out: *mut negsync_limits,
) -> negsync_result {
    guard(|| {
        let handle = unsafe { borrow(session) }?;
        let out = writable(out)?;
        unsafe { write(out, handle.inner.session.limits().into()) };
        Ok(())
    })
}
