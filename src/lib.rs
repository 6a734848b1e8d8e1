//! # negsync
//!
//! Negentropy (V1) range-based set reconciliation for mesh nodes: find out, in a few round trips
//! and a few kilobytes, which documents this node and a peer each lack.
//!
//! ```
//! use negsync::{ItemSet, Session, id_for_key};
//!
//! let (ours, theirs) = (ItemSet::new(), ItemSet::new());
//! ours.insert(100, id_for_key(b"doc-a")).unwrap();
//! theirs.insert(200, id_for_key(b"doc-b")).unwrap();
//!
//! let mut initiator = Session::new(ours.snapshot(), 0).unwrap();
//! let mut responder = Session::new(theirs.snapshot(), 0).unwrap();
//! let mut message = initiator.initiate().unwrap();
//! loop {
//!     let reply = responder.reconcile(&message).unwrap().reply.expect("a responder always answers");
//!     match initiator.reconcile(&reply).unwrap().reply {
//!         Some(next) => message = next,
//!         None => break,
//!     }
//! }
//! assert_eq!(initiator.have_ids().unwrap(), [id_for_key(b"doc-a")]);
//! assert_eq!(initiator.need_ids().unwrap(), [id_for_key(b"doc-b")]);
//! ```
//!
//! Layers: this core (IDs, sets, snapshots, validation, sessions) knows nothing of C or networks;
//! [`ffi`] is the C ABI over it, the only module with `unsafe`.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
// Unit tests run on the host and may use std's macros even when the library itself is no_std.
#[cfg(all(test, not(feature = "std")))]
#[macro_use]
extern crate std;

mod engine;
mod error;
mod id;
mod id_list;
mod limits;
mod lock;
mod manager;
mod session;
mod set;
mod snapshot;
mod sort;
#[cfg(test)]
mod test_rng;
pub mod wire;

pub mod ffi;
#[cfg(feature = "iroh")]
pub mod net;

pub use error::{Error, Limit};
pub use id::{ID_SIZE, Id, Item, id_for_key, id_for_version};
pub use limits::Limits;
/// The reference count [`SyncManager::new`] takes its set in: `alloc::sync::Arc` on every target
/// with compare-and-swap, `portable_atomic_util::Arc` on those without (Cortex-M0/M0+, RISC-V
/// `imc`; the application provides a `critical-section` implementation there).
pub use lock::Arc;
pub use manager::{
    Direction, Handled, ManagerConfig, ManagerStats, PEER_ID_SIZE, PeerId, SyncManager,
};
pub use session::{LentStep, MIN_FRAME_SIZE_LIMIT, Role, Session, State, Step};
pub use set::ItemSet;
pub use snapshot::Snapshot;

/// This library's version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
