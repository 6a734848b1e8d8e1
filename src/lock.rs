//! The set's lock: `std::sync::Mutex` where there is a std, a spin lock on bare-metal firmware.

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
