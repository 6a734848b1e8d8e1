//! What a handle remembers about the calls made on it: why the last one failed, and whether a
//! panic inside one left it untrustworthy.

use alloc::ffi::CString;
#[cfg(feature = "std")]
use alloc::string::ToString;
use core::ffi::{CStr, c_char};

use super::boundary::{borrow_mut, catch, guard};
use super::result::{
    NEGSYNC_OK, NEGSYNC_PANIC, NEGSYNC_WRONG_STATE, code_of, describe, negsync_result,
};
use crate::Error;

/// A call's error text. Only an error that carries details costs an allocation: a call that
/// succeeds allocates nothing here (the firmware's allocation budget counts on it), and neither
/// does the report of running out of memory, which must not need memory itself.
#[derive(Default)]
enum LastError {
    #[default]
    None,
    Static(&'static CStr),
    Owned(CString),
}

#[derive(Default)]
pub(crate) struct CallRecord {
    /// Detail of the last failed mutating call, NUL-terminated; empty after one that succeeded.
    last_error: LastError,
    /// Set when a panic was caught inside a call: the handle's state is not trusted again.
    poisoned: bool,
}

impl CallRecord {
    /// Runs a mutating call: refuses a poisoned handle, records why any failure happened (a
    /// refused `precondition`, such as a NULL out-parameter, included), and poisons the handle if
    /// `body` panics.
    pub(crate) fn run<T>(
        &mut self,
        precondition: Result<T, negsync_result>,
        body: impl FnOnce(T) -> Result<(), Error>,
    ) -> negsync_result {
        if self.poisoned {
            self.last_error = LastError::Static(c"poisoned by an earlier panic");
            return NEGSYNC_WRONG_STATE;
        }
        self.last_error = LastError::None;
        let checked = match precondition {
            Ok(checked) => checked,
            Err(code) => {
                self.last_error = LastError::Static(describe(code));
                return code;
            }
        };
        match catch(|| body(checked)) {
            Ok(Ok(())) => NEGSYNC_OK,
            Ok(Err(error)) => {
                self.last_error = error_text(&error);
                code_of(&error)
            }
            Err(()) => {
                self.poisoned = true;
                self.last_error = LastError::Static(c"a panic was caught; the handle is poisoned");
                NEGSYNC_PANIC
            }
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    pub(crate) fn last_error(&self) -> *const c_char {
        match &self.last_error {
            LastError::None => c"".as_ptr(),
            LastError::Static(text) => text.as_ptr(),
            LastError::Owned(text) => text.as_ptr(),
        }
    }
}

/// The text `last_error` gives for an error: running out of memory is described without
/// allocating; any other error by [`detailed_text`].
fn error_text(error: &Error) -> LastError {
    match error {
        Error::OutOfMemory => LastError::Static(describe(code_of(error))),
        _ => detailed_text(error).map_or(LastError::None, LastError::Owned),
    }
}

/// The text of an error: its `Display` with std.
#[cfg(feature = "std")]
fn detailed_text(error: &Error) -> Option<CString> {
    CString::new(error.to_string()).ok()
}

/// The text of an error without std: the code's description and the reason
/// the error carries (a static text, which limit, or where a malformed message went wrong),
/// written without `core::fmt`, which this leaves out of the firmware image (about 3 KB of code
/// on Cortex-M3, measured). The numbers `Display` adds (a version byte, a mode, a prefix
/// length) are left out.
#[cfg(not(feature = "std"))]
fn detailed_text(error: &Error) -> Option<CString> {
    use crate::Limit;
    let mut text = alloc::vec::Vec::new();
    text.extend_from_slice(describe(code_of(error)).to_bytes());
    let reason = match error {
        Error::InvalidArgument(why) | Error::WrongState(why) | Error::Internal(why) => why,
        Error::LimitExceeded(Limit::MessageSize) => "max_message_size",
        Error::LimitExceeded(Limit::Rounds) => "max_rounds",
        Error::LimitExceeded(Limit::IdBytes) => "max_id_bytes",
        Error::LimitExceeded(Limit::FrameSize) => "the frame size limit cannot hold one range",
        Error::MalformedMessage(malformed) => {
            text.extend_from_slice(b" (at byte ");
            let mut digits = [0; 20];
            text.extend_from_slice(decimal(malformed.offset as u64, &mut digits));
            text.push(b')');
            ""
        }
        Error::UnsupportedVersion(_) | Error::OutOfMemory => "",
    };
    if !reason.is_empty() {
        text.extend_from_slice(b": ");
        text.extend_from_slice(reason.as_bytes());
    }
    CString::new(text).ok()
}

/// `value` in decimal, written at the end of `buffer` (no `core::fmt`).
#[cfg(not(feature = "std"))]
pub(crate) fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buffer[start..];
        }
    }
}

/// A handle type made of a call record and the state its calls work on.
pub(crate) trait Handle {
    type Inner;
    fn split(&mut self) -> (&mut CallRecord, &mut Self::Inner);
}

/// Runs a mutating call on the handle at `handle` (see [`CallRecord::run`]).
///
/// # Safety
/// `handle` is NULL or a live handle used by no other thread during the call.
pub(crate) unsafe fn with_handle<H: Handle, T>(
    handle: *mut H,
    precondition: Result<T, negsync_result>,
    body: impl FnOnce(&mut H::Inner, T) -> Result<(), Error>,
) -> negsync_result {
    guard(|| {
        let (record, inner) = unsafe { borrow_mut(handle) }?.split();
        match record.run(precondition, |checked| body(inner, checked)) {
            NEGSYNC_OK => Ok(()),
            code => Err(code),
        }
    })
}
