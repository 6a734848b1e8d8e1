//! The seeded generator unit tests draw their inputs from: xorshift64, reproducible on every
//! target, with no dependency.

/// Numbers from `seed` (any value but 0), the same sequence on every run.
pub(crate) fn xorshift64(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
