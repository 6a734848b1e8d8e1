//! Sharing and locking: the set's lock and the reference count that shares sets and snapshots.
//!
//! - With std: `std::sync::Mutex` and `alloc::sync::Arc`.
//! - Without std, on a target with compare-and-swap (Cortex-M3/M4/M7, RISC-V with the A
//!   extension): a spin lock and `alloc::sync::Arc`.
//! - Without compare-and-swap (Cortex-M0/M0+, RISC-V `imc`): the same spin lock and
//!   `portable_atomic_util::Arc`, whose read-modify-write operations portable-atomic performs
//!   inside a short critical section of the `critical-section` crate. Nothing is held in a
//!   critical section for longer than one such operation: a lock is taken by one swap, and held
//!   afterwards with interrupts on.

#[cfg(target_has_atomic = "ptr")]
pub use alloc::sync::Arc;
#[cfg(not(target_has_atomic = "ptr"))]
pub use portable_atomic_util::Arc;

#[cfg(feature = "std")]
mod imp {
    /// A mutex that keeps working after a panic elsewhere: every writer leaves the guarded state
    /// consistent before anything that could panic, so a poisoned flag carries no meaning here.
    #[derive(Default)]
    pub struct Lock<T>(std::sync::Mutex<T>);

    impl<T> Lock<T> {
        pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    #[derive(Default)]
    pub struct Lock<T>(spin::Mutex<T>);

    impl<T> Lock<T> {
        pub fn lock(&self) -> spin::MutexGuard<'_, T> {
            self.0.lock()
        }
    }
}

pub(crate) use imp::Lock;
