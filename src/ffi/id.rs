//! ID derivation.

use super::boundary::{bytes, guard, writable, write_id};
use super::result::negsync_result;
use crate::{id_for_key, id_for_version};

/// Writes SHA-256(key) to `out_id`: the ID of a document known by its key alone.
///
/// `key` may be NULL only when `key_len` is 0. `out_id` must have room for NEGSYNC_ID_SIZE bytes;
/// it is written only on success. Thread-safe.
///
/// # Safety
/// `key` points to `key_len` readable bytes; `out_id` to 32 writable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_id_for_key(
    key: *const u8,
    key_len: usize,
    out_id: *mut u8,
) -> negsync_result {
    guard(|| {
        let out_id = writable(out_id)?;
        let key = unsafe { bytes(key, key_len) }?;
        unsafe { write_id(out_id, &id_for_key(key)) };
        Ok(())
    })
}

/// Writes SHA-256(u64_le(key_len) || key || version) to `out_id`: the ID of one version of a
/// document (`version` is a content hash or the CRDT heads), so a changed document gets a new ID.
///
/// `key`/`version` may be NULL only when their length is 0. `out_id` is written only on success.
/// Thread-safe.
///
/// # Safety
/// `key` and `version` point to that many readable bytes; `out_id` to 32 writable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn negsync_id_for_version(
    key: *const u8,
    key_len: usize,
    version: *const u8,
    version_len: usize,
    out_id: *mut u8,
) -> negsync_result {
    guard(|| {
        let out_id = writable(out_id)?;
        let key = unsafe { bytes(key, key_len) }?;
        let version = unsafe { bytes(version, version_len) }?;
        unsafe { write_id(out_id, &id_for_version(key, version)) };
        Ok(())
    })
}
