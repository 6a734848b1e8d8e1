//! `negsync_set`: a mutable item set, internally synchronized.

use alloc::boxed::Box;
use alloc::sync::Arc;

use super::boundary::{borrow, bytes, guard, guard_value, id, u64_array, writable, write};
use super::result::{NEGSYNC_INVALID_ARGUMENT, negsync_result};
use crate::{ID_SIZE, ItemSet};

/// A mutable collection of (timestamp, id) items. Internally synchronized: any thread may insert
/// or remove while other threads create sessions from it. In the firmware build the lock is a
/// spin lock: on a single-core RTOS use a set from tasks of one priority, never from an interrupt
/// (a task spinning on a set held by a preempted lower-priority task never gets it).
pub struct negsync_set {
    /// Shared with the managers that serve it.
    pub(crate) set: Arc<ItemSet>,
}

/// Creates an empty set in `*out`. Free it with `negsync_set_free`.
///
/// # Safety
/// `out` points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_new(out: *mut *mut negsync_set) -> negsync_result {
    guard(|| {
        let out = writable(out)?;
        let set = Box::new(negsync_set {
            set: Arc::new(ItemSet::new()),
        });
        unsafe { write(out, Box::into_raw(set)) };
        Ok(())
    })
}

/// Adds one item (a no-op if present). `id` points to NEGSYNC_ID_SIZE bytes, copied. The timestamp
/// UINT64_MAX is reserved by the protocol (`NEGSYNC_INVALID_ARGUMENT`). An ID must appear in a
/// set at one timestamp only: the protocol matches ID lists by ID, so a second copy of an ID at
/// another timestamp reads as missing on the peer. Thread-safe.
///
/// # Safety
/// `set` is a live set from `negsync_set_new`; `id` points to 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_insert(
    set: *mut negsync_set,
    timestamp: u64,
    id: *const u8,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let id = unsafe { self::id(id) }?;
        set.set
            .insert(timestamp, id)
            .map_err(|_| NEGSYNC_INVALID_ARGUMENT)
    })
}

/// Adds `count` items in one call: `timestamps[i]` with the ID at `ids + 32 * i`. Both arrays are
/// copied; either may be NULL only when `count` is 0, and `timestamps` need not be aligned. All or
/// nothing: if any timestamp is UINT64_MAX, or `count * 32` overflows size_t, nothing is added
/// (`NEGSYNC_INVALID_ARGUMENT`). Thread-safe.
///
/// # Safety
/// `timestamps` points to `count` uint64_t, `ids` to `count * 32` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_insert_many(
    set: *mut negsync_set,
    timestamps: *const u64,
    ids: *const u8,
    count: usize,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let id_bytes = count.checked_mul(ID_SIZE).ok_or(NEGSYNC_INVALID_ARGUMENT)?;
        let timestamps = unsafe { u64_array(timestamps, count) }?;
        let ids = unsafe { bytes(ids, id_bytes) }?;
        set.set
            .insert_many(&timestamps, ids)
            .map_err(|_| NEGSYNC_INVALID_ARGUMENT)
    })
}

/// Removes one item (a no-op if absent, UINT64_MAX included). `id` points to NEGSYNC_ID_SIZE bytes.
/// When a document changes, remove its old item and insert the new one. Thread-safe.
///
/// # Safety
/// `set` is a live set; `id` points to 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_remove(
    set: *mut negsync_set,
    timestamp: u64,
    id: *const u8,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let id = unsafe { self::id(id) }?;
        set.set.remove(timestamp, id);
        Ok(())
    })
}

/// The number of distinct items in the set; 0 for NULL. Thread-safe.
///
/// # Safety
/// `set` is NULL or a live set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_len(set: *const negsync_set) -> usize {
    guard_value(0, || match unsafe { borrow(set) } {
        Ok(set) => set.set.len(),
        Err(_) => 0,
    })
}

/// Frees a set; NULL is a no-op. Sessions created from it keep their own snapshot and stay valid;
/// managers serving it keep it alive until they are freed.
/// No other thread may be using the set during this call.
///
/// # Safety
/// `set` is NULL or a set from `negsync_set_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_free(set: *mut negsync_set) {
    guard_value((), || {
        if !set.is_null() {
            drop(unsafe { Box::from_raw(set) });
        }
    })
}

/// Makes room for `count` more items (exactly), so filling a set of known size allocates once.
///
/// # Safety
/// `set` is a live set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_reserve(
    set: *mut negsync_set,
    count: usize,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        set.set.reserve(count);
        Ok(())
    })
}
