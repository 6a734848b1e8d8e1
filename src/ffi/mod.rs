//! The C ABI: a thin layer of opaque handles and result codes over the core. The only module with
//! `unsafe`. Every export checks its pointers, catches panics, and writes its out-parameters only
//! on success. The header `include/negsync.h` is generated from these files by cbindgen.
#![allow(unsafe_code)]
// C names (`negsync_set`, `negsync_result`) are the contract, not Rust style.
#![allow(non_camel_case_types)]

mod boundary;
mod call;
mod debug;
mod id;
mod limits;
mod manager;
mod result;
#[cfg(all(not(feature = "std"), feature = "c-runtime"))]
mod runtime;
mod session;
mod set;
mod stats;
mod version;

pub use debug::negsync_debug_panic;
pub use id::{negsync_id_for_key, negsync_id_for_version};
pub use limits::{
    negsync_limits, negsync_limits_default, negsync_session_get_limits, negsync_session_set_limits,
};
pub use manager::*;
pub use result::*;
#[cfg(all(not(feature = "std"), feature = "c-runtime"))]
pub use runtime::*;
pub use session::{
    negsync_session, negsync_session_forget_ids, negsync_session_free, negsync_session_have_ids,
    negsync_session_initiate, negsync_session_is_complete, negsync_session_last_error,
    negsync_session_need_ids, negsync_session_new, negsync_session_new_window,
    negsync_session_reconcile,
};
pub use set::{
    negsync_set, negsync_set_contains, negsync_set_copy_items, negsync_set_free,
    negsync_set_insert, negsync_set_insert_many, negsync_set_len, negsync_set_new,
    negsync_set_remove, negsync_set_reserve,
};
pub use stats::*;
pub use version::*;
