//! Result codes: one per failure class, with a static description each.

use core::ffi::{CStr, c_char};

use crate::Error;

/// The result of every fallible negsync function. `NEGSYNC_OK` (0) is success; every other value is
/// one class of failure, described by `negsync_result_str`. Codes are stable across versions.
pub type negsync_result = u32;

/// Success.
pub const NEGSYNC_OK: negsync_result = 0;
/// A required pointer argument was NULL. Nothing was changed.
pub const NEGSYNC_NULL_PARAMETER: negsync_result = 1;
/// An argument has a value the function does not accept (a frame limit of 1..4095, the reserved
/// timestamp UINT64_MAX, ...). Nothing was changed.
pub const NEGSYNC_INVALID_ARGUMENT: negsync_result = 2;
/// A message from the peer is not well-formed Negentropy. The session has failed.
pub const NEGSYNC_MALFORMED_MESSAGE: negsync_result = 3;
/// The peer (a responder) speaks another Negentropy version. The session has failed.
pub const NEGSYNC_UNSUPPORTED_VERSION: negsync_result = 4;
/// The call does not fit the session's state (initiate twice, reconcile after completion or
/// failure, have/need IDs of a responder). Nothing was changed.
pub const NEGSYNC_WRONG_STATE: negsync_result = 5;
/// The peer pushed the session past one of its limits (`negsync_limits`). The session has failed.
pub const NEGSYNC_LIMIT_EXCEEDED: negsync_result = 6;
/// A panic inside negsync was caught at the boundary. A session or manager it happened in is
/// poisoned: every later mutating call and every have/need read answers `NEGSYNC_WRONG_STATE`
/// (statistics and limits can still be read); other handles keep working.
pub const NEGSYNC_PANIC: negsync_result = 7;
/// The engine failed where valid input cannot make it fail: a bug in negsync, please report it.
pub const NEGSYNC_INTERNAL: negsync_result = 8;
/// The allocator refused memory for a buffer the session keeps (firmware: the heap given to
/// negsync ran out). The session has failed; the set is unchanged. Firmware builds return this
/// wherever negsync can tell; an allocation that fails elsewhere still ends in the panic hook
/// (docs/firmware.md lists which).
pub const NEGSYNC_NO_MEMORY: negsync_result = 9;

pub(crate) fn code_of(error: &Error) -> negsync_result {
    match error {
        Error::InvalidArgument(_) => NEGSYNC_INVALID_ARGUMENT,
        Error::MalformedMessage(_) => NEGSYNC_MALFORMED_MESSAGE,
        Error::UnsupportedVersion(_) => NEGSYNC_UNSUPPORTED_VERSION,
        Error::WrongState(_) => NEGSYNC_WRONG_STATE,
        Error::LimitExceeded(_) => NEGSYNC_LIMIT_EXCEEDED,
        Error::Internal(_) => NEGSYNC_INTERNAL,
        Error::OutOfMemory => NEGSYNC_NO_MEMORY,
    }
}

/// The description of a code, as `negsync_result_str` returns it.
pub(crate) fn describe(result: negsync_result) -> &'static CStr {
    match result {
        NEGSYNC_OK => c"NEGSYNC_OK: success",
        NEGSYNC_NULL_PARAMETER => c"NEGSYNC_NULL_PARAMETER: a required pointer was NULL",
        NEGSYNC_INVALID_ARGUMENT => c"NEGSYNC_INVALID_ARGUMENT: an argument has an invalid value",
        NEGSYNC_MALFORMED_MESSAGE => {
            c"NEGSYNC_MALFORMED_MESSAGE: the peer's message is not valid Negentropy"
        }
        NEGSYNC_UNSUPPORTED_VERSION => {
            c"NEGSYNC_UNSUPPORTED_VERSION: the peer speaks another protocol version"
        }
        NEGSYNC_WRONG_STATE => c"NEGSYNC_WRONG_STATE: the call does not fit the session's state",
        NEGSYNC_LIMIT_EXCEEDED => c"NEGSYNC_LIMIT_EXCEEDED: the peer exceeded a session limit",
        NEGSYNC_PANIC => c"NEGSYNC_PANIC: a panic inside negsync was caught",
        NEGSYNC_INTERNAL => c"NEGSYNC_INTERNAL: internal error (a bug in negsync)",
        NEGSYNC_NO_MEMORY => c"NEGSYNC_NO_MEMORY: the allocator refused memory",
        _ => c"unknown result code",
    }
}

/// A static, NUL-terminated description of a result code ("unknown result code" for a value no
/// version of negsync returns). Never NULL; never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn negsync_result_str(result: negsync_result) -> *const c_char {
    describe(result).as_ptr()
}
