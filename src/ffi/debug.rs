//! A deliberate panic, so that tests in every language can prove the panic boundary holds.

use super::boundary::guard;
use super::result::{NEGSYNC_PANIC, negsync_result};
use super::session::negsync_session;
use crate::Error;

/// Panics inside negsync's panic boundary, on purpose: for tests that check a panic becomes
/// `NEGSYNC_PANIC` without harming the process. With a session, the panic happens inside a call on
/// it, so that session is poisoned (every later mutating call returns `NEGSYNC_WRONG_STATE`) while
/// other sessions and sets keep working; with NULL, it happens outside any handle. Never needed in
/// production. Returns `NEGSYNC_PANIC` (or `NEGSYNC_WRONG_STATE` for an already poisoned session).
///
/// # Safety
/// `session` is NULL or a live session used by no other thread during the call.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_debug_panic(session: *mut negsync_session) -> negsync_result {
    match unsafe { session.as_mut() } {
        Some(handle) => handle.record.run(Ok(()), |()| -> Result<(), Error> {
            panic!("negsync_debug_panic")
        }),
        None => {
            let code = guard(|| panic!("negsync_debug_panic"));
            debug_assert_eq!(code, NEGSYNC_PANIC);
            code
        }
    }
}
