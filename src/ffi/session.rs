//! `negsync_session`: one reconciliation with one peer, and the buffers it lends out.

use alloc::boxed::Box;
use core::ffi::c_char;

use super::boundary::{borrow, bytes, guard, guard_value, writable, write};
use super::call::{CallRecord, Handle, with_handle};
use super::result::{NEGSYNC_WRONG_STATE, code_of, negsync_result};
use super::set::negsync_set;
use crate::{Error, Id, Limits, Session};

/// One reconciliation with one peer. May move between threads, but must not be used by two threads
/// at once; sessions from one set run concurrently on different threads.
pub struct negsync_session {
    pub(crate) record: CallRecord,
    pub(crate) inner: SessionInner,
}

pub(crate) struct SessionInner {
    pub(crate) session: Session,
}

/// The smallest frame size limit a session accepts (0 means none). From 4096 bytes on (and with
/// none) messages are byte for byte those of every other V1 implementation; from 128 to 4095
/// (radio links) the framing is negsync's own, readable by any V1 peer. 128 bytes carry every
/// exchange whose timestamps are below 2^42 (milliseconds since 1970 until 2109; any time in
/// seconds), whatever the IDs. Above that, IDs sharing 31 bytes at one timestamp (never the case
/// for hashes) can need 132 bytes: below that such an exchange fails with
/// `NEGSYNC_LIMIT_EXCEEDED`, never with a larger message or a wrong result.
pub const NEGSYNC_MIN_FRAME_SIZE_LIMIT: u64 = 128;
const _: () = assert!(NEGSYNC_MIN_FRAME_SIZE_LIMIT == crate::MIN_FRAME_SIZE_LIMIT);

impl Handle for negsync_session {
    type Inner = SessionInner;
    fn split(&mut self) -> (&mut CallRecord, &mut SessionInner) {
        (&mut self.record, &mut self.inner)
    }
}

/// Creates a session over a snapshot of `set` taken now, in `*out`; later changes to the set do
/// not affect it, and the set may be freed while the session lives. When the set has not changed
/// since its last snapshot, no items are copied. `frame_size_limit` bounds every message this
/// side sends: 0 for none, else at least `NEGSYNC_MIN_FRAME_SIZE_LIMIT` (128;
/// `NEGSYNC_INVALID_ARGUMENT` for 1..127).
/// Free the session with `negsync_session_free`. Thread-safe with respect to the set.
///
/// # Safety
/// `set` is a live set; `out` points to writable storage for one pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_new(
    set: *const negsync_set,
    frame_size_limit: u64,
    out: *mut *mut negsync_session,
) -> negsync_result {
    unsafe {
        new_session(set, out, |snapshot| {
            Session::new(snapshot, frame_size_limit)
        })
    }
}

/// As `negsync_session_new`, over only the items whose timestamps fall in `[from, to)` (a time
/// window, e.g. "the last day"): a view of the snapshot, nothing copied, created in O(log n).
/// Both peers must use the same window; items outside it are never compared and never appear in
/// have/need. `from > to` is `NEGSYNC_INVALID_ARGUMENT`; `from == to` is an empty window.
///
/// # Safety
/// `set` is a live set; `out` points to writable storage for one pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_new_window(
    set: *const negsync_set,
    from: u64,
    to: u64,
    frame_size_limit: u64,
    out: *mut *mut negsync_session,
) -> negsync_result {
    unsafe {
        new_session(set, out, |snapshot| {
            Session::with_window(snapshot, from, to, frame_size_limit, Limits::DEFAULT)
        })
    }
}

/// A new session handle over a snapshot of `set`, made by `make`, written to `out`.
unsafe fn new_session(
    set: *const negsync_set,
    out: *mut *mut negsync_session,
    make: impl FnOnce(crate::Snapshot) -> Result<Session, Error>,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let out = writable(out)?;
        let session = make(set.set.snapshot()).map_err(|e| code_of(&e))?;
        let handle = Box::new(negsync_session {
            record: CallRecord::default(),
            inner: SessionInner { session },
        });
        unsafe { write(out, Box::into_raw(handle)) };
        Ok(())
    })
}

/// Makes this session the initiator and lends out the first message in `*msg`/`*msg_len`.
/// The buffer belongs to the session and stays valid until the next mutating call on it or its
/// free. A second call, or a call after `negsync_session_reconcile`, is `NEGSYNC_WRONG_STATE`.
///
/// # Safety
/// `session` is a live session; `msg` and `msg_len` point to writable storage.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_initiate(
    session: *mut negsync_session,
    msg: *mut *const u8,
    msg_len: *mut usize,
) -> negsync_result {
    let out_params = writable(msg).and(writable(msg_len));
    unsafe {
        with_handle(session, out_params, |inner, _| {
            let message = inner.session.initiate_lent()?;
            write(msg, message.as_ptr());
            write(msg_len, message.len());
            Ok(())
        })
    }
}

/// Feeds one whole message from the peer. A session that never called initiate becomes the
/// responder. On success: `*reply`/`*reply_len` is the next message to send (`*reply_len == 0`
/// and `*reply == NULL`: send nothing), lent out until the next mutating call on the session or
/// its free; `*complete` is true when the exchange is over for this side.
///
/// The responder completes with a reply that holds no fingerprint ranges (send that reply: the
/// initiator will then finish). The initiator can also finish after a reply that still held one,
/// which the responder cannot know: the initiator's silence or a closed stream also ends the
/// exchange. `msg` may be NULL only when `msg_len` is 0 (an empty message is malformed).
///
/// Errors: `NEGSYNC_MALFORMED_MESSAGE`, `NEGSYNC_UNSUPPORTED_VERSION` (initiator only: a responder
/// answers another version with the bare byte 0x61 and stays ready), `NEGSYNC_LIMIT_EXCEEDED`:
/// the session has failed. `NEGSYNC_WRONG_STATE` after completion or failure. Details:
/// `negsync_session_last_error`.
///
/// # Safety
/// `session` is a live session; `msg` points to `msg_len` readable bytes; the out-parameters
/// point to writable storage.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_reconcile(
    session: *mut negsync_session,
    msg: *const u8,
    msg_len: usize,
    reply: *mut *const u8,
    reply_len: *mut usize,
    complete: *mut bool,
) -> negsync_result {
    let out_params = writable(reply)
        .and(writable(reply_len))
        .and(writable(complete));
    let message = out_params.and_then(|_| unsafe { bytes(msg, msg_len) });
    unsafe {
        with_handle(session, message, |inner, message| {
            let step = inner.session.reconcile_lent(message)?;
            let (lent, len) = match step.reply {
                None => (core::ptr::null(), 0),
                Some(reply) => (reply.as_ptr(), reply.len()),
            };
            write(reply, lent);
            write(reply_len, len);
            write(complete, step.complete);
            Ok(())
        })
    }
}

/// Lends out an ID list as one array of `*count` IDs (`*count * NEGSYNC_ID_SIZE` bytes).
///
/// # Safety
/// `session` is NULL or a live session; `ids` and `count` are NULL or writable.
unsafe fn lend_ids(
    session: *const negsync_session,
    ids_out: *mut *const u8,
    count_out: *mut usize,
    pick: fn(&Session) -> Result<&[Id], Error>,
) -> negsync_result {
    guard(|| {
        let handle = unsafe { borrow(session) }?;
        let ids_out = writable(ids_out)?;
        let count_out = writable(count_out)?;
        if handle.record.is_poisoned() {
            return Err(NEGSYNC_WRONG_STATE);
        }
        let ids = pick(&handle.inner.session).map_err(|e| code_of(&e))?;
        let lent = match ids.is_empty() {
            true => core::ptr::null(),
            // `Id` is `repr(transparent)` over `[u8; 32]`: the list is `len * 32` contiguous bytes.
            false => ids.as_ptr().cast::<u8>(),
        };
        unsafe {
            write(ids_out, lent);
            write(count_out, ids.len());
        }
        Ok(())
    })
}

/// Initiator only: every ID found so far that we have and the peer lacks, each exactly once,
/// accumulated over all rounds (in the order found; sorted within each round, so the same
/// exchange always lists them the same way), as one array of `*count * NEGSYNC_ID_SIZE` bytes (`*ids` is NULL
/// when `*count` is 0). Lent out until the next mutating call on the session or its free.
/// `NEGSYNC_WRONG_STATE` for a responder or a session that has not initiated. Reading does not
/// change the session, so `negsync_session_last_error` is left as it was.
///
/// # Safety
/// `session` is a live session; `ids` and `count` point to writable storage.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_have_ids(
    session: *const negsync_session,
    ids: *mut *const u8,
    count: *mut usize,
) -> negsync_result {
    unsafe { lend_ids(session, ids, count, Session::have_ids) }
}

/// Initiator only: every ID found so far that the peer has and we lack; otherwise as
/// `negsync_session_have_ids`.
///
/// # Safety
/// `session` is a live session; `ids` and `count` point to writable storage.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_need_ids(
    session: *const negsync_session,
    ids: *mut *const u8,
    count: *mut usize,
) -> negsync_result {
    unsafe { lend_ids(session, ids, count, Session::need_ids) }
}

/// Initiator only: forgets the have/need IDs found so far (read them first), keeping the room
/// they took, so that `negsync_session_have_ids` and `negsync_session_need_ids` then list only
/// what later rounds find. For firmware that acts on IDs as each round brings them: the session's
/// memory is then bounded by one round's findings, not by the number of differences. The
/// counts in `negsync_session_stats` still include forgotten IDs (and count a forgotten ID again
/// if it is listed again). A forgotten ID can be listed again: under frame limits a V1 peer's
/// cut ends its message with one fingerprint over everything after the cut, so ranges already
/// settled there are looked at again (and a faulty or hostile peer can repeat any ID). Act on
/// IDs idempotently. Allocates nothing. Invalidates the lists lent out before.
/// `NEGSYNC_WRONG_STATE` for a responder or a session that has not initiated.
///
/// # Safety
/// `session` is a live session.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_forget_ids(
    session: *mut negsync_session,
) -> negsync_result {
    unsafe { with_handle(session, Ok(()), |inner, ()| inner.session.forget_ids()) }
}

/// True when the exchange is over for this side; false for NULL or a poisoned session.
///
/// # Safety
/// `session` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_is_complete(session: *const negsync_session) -> bool {
    guard_value(false, || match unsafe { borrow(session) } {
        Ok(handle) => !handle.record.is_poisoned() && handle.inner.session.is_complete(),
        Err(_) => false,
    })
}

/// A NUL-terminated description of why the last mutating call on this session (initiate,
/// reconcile, set_limits) failed ("" after one that succeeded). Owned by the session; valid until
/// the next mutating call on it or its free. For NULL, a static string saying so. Never NULL.
/// Call it in a statement of its own after the failed call: C does not fix the order in which a
/// function's arguments are evaluated, so in `f(negsync_session_reconcile(s, ...),
/// negsync_session_last_error(s))` the text may be read before the call replaces it.
///
/// # Safety
/// `session` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_last_error(
    session: *const negsync_session,
) -> *const c_char {
    let null_session = c"session is NULL".as_ptr();
    guard_value(null_session, || match unsafe { borrow(session) } {
        Ok(handle) => handle.record.last_error(),
        Err(_) => null_session,
    })
}

/// Frees a session and every buffer it lent out; NULL is a no-op.
///
/// # Safety
/// `session` is NULL or a session from `negsync_session_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_session_free(session: *mut negsync_session) {
    guard_value((), || {
        if !session.is_null() {
            drop(unsafe { Box::from_raw(session) });
        }
    })
}
