//! SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, and easy to write identically in any
//! language, so tests and benchmarks are reproducible from a seed alone. One file, included by
//! the integration tests (`tests/common`) and the benchmark (`benches/suite/data.rs`).

pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
