//! The benchmark's data: two overlapping sets drawn from a seeded SplitMix64 stream, and the file
//! that hands exactly those sets to the C and Python benchmarks.
//!
//! File layout (all integers little-endian), read by `bindings/c/bench/bench.c` and
//! `bindings/python/bench/bench.py`:
//!
//! ```text
//! "NSBENCH1"                      8 bytes, magic
//! items_a, items_b                u64 each
//! timestamps of side A            items_a * u64
//! IDs of side A                   items_a * 32 bytes
//! timestamps of side B            items_b * u64
//! IDs of side B                   items_b * 32 bytes
//! ```
//!
//! Column layout (all timestamps, then all IDs) is what `insert_many` takes, so every face of the
//! library builds its sets from the file without reshaping it.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"NSBENCH1";
pub const ID_SIZE: usize = 32;

/// Timestamps are spread over about three years of seconds: realistic document times, and few
/// enough collisions that bounds are mostly timestamp-only, as in a real deployment.
const TIMESTAMP_BASE: u64 = 1_600_000_000;
const TIMESTAMP_SPAN: u64 = 100_000_000;

#[path = "../../tests/common/splitmix64.rs"]
mod splitmix64;
pub use splitmix64::SplitMix64;

/// One peer's items in `insert_many` layout: `ids` holds `32 * timestamps.len()` bytes.
#[derive(Default)]
pub struct Side {
    pub timestamps: Vec<u64>,
    pub ids: Vec<u8>,
}

impl Side {
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    fn with_capacity(items: usize) -> Self {
        Self {
            timestamps: Vec::with_capacity(items),
            ids: Vec::with_capacity(items * ID_SIZE),
        }
    }

    fn push(&mut self, timestamp: u64, id: &[u8; ID_SIZE]) {
        self.timestamps.push(timestamp);
        self.ids.extend_from_slice(id);
    }

    /// `(timestamp, id)` for each item, in insertion order.
    pub fn items(&self) -> impl Iterator<Item = (u64, [u8; ID_SIZE])> + '_ {
        self.timestamps
            .iter()
            .zip(self.ids.chunks_exact(ID_SIZE))
            .map(|(&timestamp, id)| (timestamp, id.try_into().expect("32-byte chunk")))
    }
}

/// The two peers of one scenario.
pub struct Pair {
    pub a: Side,
    pub b: Side,
}

/// How to draw a pair: `shared` items on both sides, then `only_a` and `only_b` on one side each.
#[derive(Clone, Copy)]
pub struct PairSpec {
    pub shared: usize,
    pub only_a: usize,
    pub only_b: usize,
    pub seed: u64,
}

impl PairSpec {
    /// The number of items only one side holds: what reconciliation must find.
    pub fn differences(&self) -> usize {
        self.only_a + self.only_b
    }
}

/// S1 and S2: a million items a side, 5,000 only on each.
pub const LARGE: PairSpec = PairSpec {
    shared: 995_000,
    only_a: 5_000,
    only_b: 5_000,
    seed: 1,
};

/// S3: ten thousand items a side, five only on each.
pub const SMALL: PairSpec = PairSpec {
    shared: 9_995,
    only_a: 5,
    only_b: 5,
    seed: 3,
};

/// Radio: ten thousand items a side, ten only on each, synced over small frames.
pub const RADIO: PairSpec = PairSpec {
    shared: 10_000,
    only_a: 10,
    only_b: 10,
    seed: 5,
};

/// The draw of one item: one value for the timestamp, then four for the ID (little-endian).
fn draw(rng: &mut SplitMix64) -> (u64, [u8; ID_SIZE]) {
    let timestamp = TIMESTAMP_BASE + rng.next_u64() % TIMESTAMP_SPAN;
    let mut id = [0u8; ID_SIZE];
    for lane in id.chunks_exact_mut(8) {
        lane.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    (timestamp, id)
}

/// Draws the pair. Shared items come first, then side A's own, then side B's own; their
/// timestamps are random, so the one-sided items land all over the sorted order.
pub fn generate(spec: PairSpec) -> Pair {
    let mut rng = SplitMix64::new(spec.seed);
    let mut a = Side::with_capacity(spec.shared + spec.only_a);
    let mut b = Side::with_capacity(spec.shared + spec.only_b);
    for _ in 0..spec.shared {
        let (timestamp, id) = draw(&mut rng);
        a.push(timestamp, &id);
        b.push(timestamp, &id);
    }
    for _ in 0..spec.only_a {
        let (timestamp, id) = draw(&mut rng);
        a.push(timestamp, &id);
    }
    for _ in 0..spec.only_b {
        let (timestamp, id) = draw(&mut rng);
        b.push(timestamp, &id);
    }
    Pair { a, b }
}

/// One set of `items` (S4–S6 need a single one): the same draws as a pair's shared items.
///
/// It allocates nothing but the side it returns. That matters for the memory figures: freeing a
/// large block raises glibc's threshold for serving allocations from their own mappings (up to
/// 32 MiB), after which a growing Vec's old buffers stay resident in the heap once freed.
pub fn generate_one(items: usize, seed: u64) -> Side {
    let mut rng = SplitMix64::new(seed);
    let mut side = Side::with_capacity(items);
    for _ in 0..items {
        let (timestamp, id) = draw(&mut rng);
        side.push(timestamp, &id);
    }
    side
}

pub fn write(path: &Path, pair: &Pair) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(MAGIC)?;
    out.write_all(&(pair.a.len() as u64).to_le_bytes())?;
    out.write_all(&(pair.b.len() as u64).to_le_bytes())?;
    for side in [&pair.a, &pair.b] {
        for timestamp in &side.timestamps {
            out.write_all(&timestamp.to_le_bytes())?;
        }
        out.write_all(&side.ids)?;
    }
    out.flush()
}

pub fn read(path: &Path) -> io::Result<Pair> {
    let mut file = File::open(path)?;
    let mut header = [0u8; 24];
    file.read_exact(&mut header)?;
    if &header[..8] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a negsync bench data file", path.display()),
        ));
    }
    let count = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let (items_a, items_b) = (count(8) as usize, count(16) as usize);
    let mut read_side = |items: usize| -> io::Result<Side> {
        let mut timestamp_bytes = vec![0u8; items * 8];
        file.read_exact(&mut timestamp_bytes)?;
        let mut ids = vec![0u8; items * ID_SIZE];
        file.read_exact(&mut ids)?;
        let timestamps = timestamp_bytes
            .chunks_exact(8)
            .map(|bytes| u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
            .collect();
        Ok(Side { timestamps, ids })
    };
    let a = read_side(items_a)?;
    let b = read_side(items_b)?;
    Ok(Pair { a, b })
}
