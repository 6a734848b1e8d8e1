//! `negsync_set`: a mutable item set, internally synchronized.

use crate::lock::Arc;
use alloc::boxed::Box;

use super::boundary::{
    borrow, bytes, guard, guard_value, id, u64_array, writable, write, write_id,
};
use super::result::{NEGSYNC_INVALID_ARGUMENT, NEGSYNC_NULL_PARAMETER, negsync_result};
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
#[must_use]
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
#[must_use]
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
#[must_use]
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
#[must_use]
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
#[must_use]
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

/// Whether the set holds exactly this item (this timestamp with this ID), in `*out`. `id` points
/// to NEGSYNC_ID_SIZE bytes, read during the call. Thread-safe.
///
/// # Safety
/// `set` is a live set; `id` points to 32 readable bytes; `out` points to writable storage for one
/// bool.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_contains(
    set: *const negsync_set,
    timestamp: u64,
    id: *const u8,
    out: *mut bool,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let id = unsafe { self::id(id) }?;
        let out = writable(out)?;
        let found = set.set.contains(timestamp, &id);
        unsafe { write(out, found) };
        Ok(())
    })
}

/// Copies items out of the set, in protocol order (ascending timestamp, then ID), into the
/// caller's buffers: item `start + i` goes to `timestamps[i]` and the 32 bytes at `ids + 32 * i`,
/// for i below `capacity`. `*copied` receives the number of items copied
/// (`min(capacity, total - start)`, 0 when `start >= total`) and `*total` the number of items in
/// the set at the time of the call: all items come from one consistent state of the set, so a
/// caller that wants the whole set passes `start = 0` and a capacity of `negsync_set_len()`, and
/// calls again with larger buffers if `*total` came back larger (another thread inserted
/// meanwhile). `timestamps` and `ids` may be NULL only when `capacity` is 0 (to learn the total);
/// `timestamps` need not be aligned. Nothing is allocated for the caller; the set is not changed.
/// `NEGSYNC_INVALID_ARGUMENT` if `capacity * 32` overflows size_t. Out-parameters are written only
/// on success. Thread-safe.
///
/// # Safety
/// `set` is a live set; `timestamps` points to `capacity` writable uint64_t (8 bytes each), `ids`
/// to `capacity * 32` writable bytes; `copied` and `total` to writable size_t.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_set_copy_items(
    set: *const negsync_set,
    start: usize,
    timestamps: *mut u64,
    ids: *mut u8,
    capacity: usize,
    copied: *mut usize,
    total: *mut usize,
) -> negsync_result {
    guard(|| {
        let set = unsafe { borrow(set) }?;
        let copied = writable(copied)?;
        let total = writable(total)?;
        capacity
            .checked_mul(ID_SIZE)
            .ok_or(NEGSYNC_INVALID_ARGUMENT)?;
        if capacity > 0 && (timestamps.is_null() || ids.is_null()) {
            return Err(NEGSYNC_NULL_PARAMETER);
        }
        let snapshot = set.set.snapshot();
        let items = snapshot.items().get(start..).unwrap_or(&[]);
        let items = &items[..items.len().min(capacity)];
        for (i, item) in items.iter().enumerate() {
            // SAFETY: i < capacity, and the caller gave room for `capacity` items in both.
            unsafe {
                timestamps.add(i).write_unaligned(item.timestamp);
                write_id(ids.add(i * ID_SIZE), &item.id);
            }
        }
        unsafe {
            write(copied, items.len());
            write(total, snapshot.len());
        }
        Ok(())
    })
}
