//! The panic boundary and the pointer checks every export goes through.

use alloc::borrow::Cow;
use core::slice;

use super::result::{NEGSYNC_NULL_PARAMETER, NEGSYNC_OK, NEGSYNC_PANIC, negsync_result};
use crate::{ID_SIZE, Id};

pub(crate) type Outcome = Result<(), negsync_result>;

/// Runs `body`; `Err(())` when it panicked. Without std there is no unwinding to catch: a panic
/// goes to the firmware's panic hook and never returns (see `runtime`).
pub(crate) fn catch<T>(body: impl FnOnce() -> T) -> Result<T, ()> {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).map_err(drop)
    }
    #[cfg(not(feature = "std"))]
    {
        Ok(body())
    }
}

/// Runs `body`, turning its error into a code and a panic into `NEGSYNC_PANIC`.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> negsync_result {
    match catch(body) {
        Ok(Ok(())) => NEGSYNC_OK,
        Ok(Err(code)) => code,
        Err(()) => NEGSYNC_PANIC,
    }
}

/// Runs `body` for a value-returning export; a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch(body).unwrap_or(fallback)
}

/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else mutates for `'a`.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T) -> Result<&'a T, negsync_result> {
    unsafe { ptr.as_ref() }.ok_or(NEGSYNC_NULL_PARAMETER)
}

/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else touches for `'a`.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, negsync_result> {
    unsafe { ptr.as_mut() }.ok_or(NEGSYNC_NULL_PARAMETER)
}

/// `len` bytes at `ptr`; NULL is accepted only with `len == 0`.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], negsync_result> {
    match (ptr.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(NEGSYNC_NULL_PARAMETER),
        (false, _) => Ok(unsafe { slice::from_raw_parts(ptr, len) }),
    }
}

/// `count` uint64 values at `ptr`; NULL is accepted only with `count == 0`. C code often points
/// into a packet or file buffer, so a misaligned array is copied rather than read in place.
///
/// # Safety
/// A non-NULL `ptr` points to `count * 8` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn u64_array<'a>(
    ptr: *const u64,
    count: usize,
) -> Result<Cow<'a, [u64]>, negsync_result> {
    match (ptr.is_null(), count) {
        (true, 0) => Ok(Cow::Borrowed(&[])),
        (true, _) => Err(NEGSYNC_NULL_PARAMETER),
        (false, _) if ptr.is_aligned() => {
            Ok(Cow::Borrowed(unsafe { slice::from_raw_parts(ptr, count) }))
        }
        (false, _) => Ok(Cow::Owned(
            (0..count)
                .map(|i| unsafe { ptr.add(i).read_unaligned() })
                .collect(),
        )),
    }
}

/// The 32-byte ID at `ptr`.
///
/// # Safety
/// A non-NULL `ptr` points to 32 readable bytes.
pub(crate) unsafe fn id(ptr: *const u8) -> Result<Id, negsync_result> {
    if ptr.is_null() {
        return Err(NEGSYNC_NULL_PARAMETER);
    }
    let mut bytes = [0; ID_SIZE];
    bytes.copy_from_slice(unsafe { slice::from_raw_parts(ptr, ID_SIZE) });
    Ok(Id(bytes))
}

/// Checks that an out-parameter can be written, before any work is done.
pub(crate) fn writable<T>(ptr: *mut T) -> Result<*mut T, negsync_result> {
    if ptr.is_null() {
        Err(NEGSYNC_NULL_PARAMETER)
    } else {
        Ok(ptr)
    }
}

/// Writes an out-parameter already checked by [`writable`].
///
/// # Safety
/// `ptr` is non-NULL, aligned and writable.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) {
    unsafe { ptr.write(value) }
}

/// Copies an ID into 32 bytes at an out-parameter already checked by [`writable`].
///
/// # Safety
/// `ptr` is non-NULL and points to 32 writable bytes.
pub(crate) unsafe fn write_id(ptr: *mut u8, id: &Id) {
    unsafe { core::ptr::copy_nonoverlapping(id.0.as_ptr(), ptr, ID_SIZE) }
}
