//! Range fingerprints: the IDs added as 256-bit little-endian integers (mod 2^256), the count
//! appended as a varint, SHA-256 of that, the first 16 bytes.

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;
use sha2::digest::typenum::U64;

/// One SHA-256 input block.
type Block = GenericArray<u8, U64>;

use crate::id::Id;
use crate::wire::FINGERPRINT_SIZE;

/// A 256-bit sum of IDs, as four little-endian 64-bit limbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IdSum([u64; 4]);

impl IdSum {
    pub(crate) const ZERO: IdSum = IdSum([0; 4]);

    #[inline]
    fn limbs(id: &Id) -> [u64; 4] {
        let b = &id.0;
        core::array::from_fn(|i| {
            u64::from_le_bytes(
                b[i * 8..i * 8 + 8]
                    .try_into()
                    .unwrap_or_else(|_| panic!("8 bytes")),
            )
        })
    }

    #[inline]
    pub(crate) fn add_id(&mut self, id: &Id) {
        self.add(&IdSum(Self::limbs(id)));
    }

    #[inline]
    pub(crate) fn sub_id(&mut self, id: &Id) {
        self.sub(&IdSum(Self::limbs(id)));
    }

    #[inline]
    pub(crate) fn add(&mut self, other: &IdSum) {
        let mut carry = false;
        for (limb, &add) in self.0.iter_mut().zip(&other.0) {
            let (sum, c1) = limb.overflowing_add(add);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 | c2;
        }
    }

    #[inline]
    pub(crate) fn sub(&mut self, other: &IdSum) {
        let mut borrow = false;
        for (limb, &sub) in self.0.iter_mut().zip(&other.0) {
            let (diff, b1) = limb.overflowing_sub(sub);
            let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
            *limb = diff;
            borrow = b1 | b2;
        }
    }

    /// The fingerprint of a range whose IDs add up to this sum and which holds `count` items.
    ///
    /// The input (32 bytes of sum, at most 10 of varint) always fits one SHA-256 block, so the
    /// block is padded here and compressed once (`sha2` uses the CPU's SHA instructions where
    /// there are any), without a hasher's buffering around it.
    pub(crate) fn fingerprint(&self, count: u64) -> [u8; FINGERPRINT_SIZE] {
        // Built in place in the type the compression takes: a second 64-byte copy would cost
        // stack that a microcontroller does not have to spare.
        let mut block = Block::default();
        self.write_block(count, &mut block);
        let mut state = SHA256_INITIAL_STATE;
        compress256(&mut state, core::slice::from_ref(&block));
        digest_prefix(&state)
    }

    /// The words of [`write_block`](Self::write_block)'s block, as SHA-256 reads them.
    #[cfg(target_arch = "x86_64")]
    fn block_words(&self, count: u64) -> [u32; 16] {
        let mut block = [0u8; 64];
        self.write_block(count, &mut block);
        core::array::from_fn(|t| {
            u32::from_be_bytes(block[t * 4..t * 4 + 4].try_into().expect("4 bytes"))
        })
    }

    /// The one padded SHA-256 block whose hash is the fingerprint; `block` must be zeroed.
    fn write_block(&self, count: u64, block: &mut [u8]) {
        for (chunk, limb) in block.chunks_exact_mut(8).zip(&self.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        let len = 32 + write_varint(&mut block[32..], count);
        block[len] = 0x80;
        block[56..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    }
}

/// Fingerprints the engine works out together, at most this many at a time: on x86-64 a
/// split's sixteen buckets, or a run of sixteen fingerprint ranges from the peer, so that
/// without SHA instructions they are hashed side by side ([`sha256_lanes`]); elsewhere one at a
/// time (a microcontroller keeps one block on its stack, not sixteen).
pub(crate) const BATCH: usize = if cfg!(target_arch = "x86_64") { 16 } else { 1 };

/// A range's ID sum and its item count: what its fingerprint is made of.
pub(crate) type FingerprintInput = (IdSum, u64);

/// The fingerprints of `count` ranges (at most [`BATCH`]) into `out`, in order: `input(i)` is
/// range `i`'s sum and item count. One at a time through `sha2` (the CPU's SHA instructions where
/// it has them), or, on x86-64 without them, side by side in vector lanes when there are enough.
///
/// Built with `--cfg negsync_portable_sha`, x86-64 takes the lanes even where the CPU has SHA
/// instructions: `make test` runs the exchanges that way too, since the machines it runs on
/// mostly have them.
pub(crate) fn fingerprint_each(
    count: usize,
    input: impl Fn(usize) -> FingerprintInput,
    out: &mut [[u8; FINGERPRINT_SIZE]],
) {
    #[cfg(target_arch = "x86_64")]
    if count >= LANES_WORTH_IT && side_by_side() {
        let inputs: [FingerprintInput; BATCH] = core::array::from_fn(|i| {
            if i < count {
                input(i)
            } else {
                (IdSum::ZERO, 0)
            }
        });
        fingerprint_lanes(&inputs[..count], out);
        return;
    }
    for (i, fingerprint) in out[..count].iter_mut().enumerate() {
        let (sum, items) = input(i);
        *fingerprint = sum.fingerprint(items);
    }
}

/// How many fingerprints the engine should gather before working them out: [`BATCH`] where they
/// are hashed side by side, else 1 (gathering them would only cost time: measured 8% of an
/// exchange with the CPU's SHA instructions).
pub(crate) fn batch_size() -> usize {
    #[cfg(target_arch = "x86_64")]
    if side_by_side() {
        return BATCH;
    }
    1
}

/// True where fingerprints are hashed side by side: x86-64 without SHA instructions.
#[cfg(target_arch = "x86_64")]
fn side_by_side() -> bool {
    cfg!(negsync_portable_sha) || !sha_instructions::get()
}

/// From this many fingerprints on, sixteen lanes (costing about what eight portable
/// compressions cost, in instructions) beat one compression each.
#[cfg(target_arch = "x86_64")]
const LANES_WORTH_IT: usize = 8;

// The CPU features `sha2` itself checks for before using its SHA-instruction code.
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(sha_instructions, "sha", "sse2", "ssse3", "sse4.1");

/// [`fingerprint_each`] through the lanes, whatever the CPU (unused lanes hash zeros).
#[cfg(target_arch = "x86_64")]
fn fingerprint_lanes(inputs: &[FingerprintInput], out: &mut [[u8; FINGERPRINT_SIZE]]) {
    use super::sha256_lanes::{LANES, compress};
    for (inputs, out) in inputs.chunks(LANES).zip(out.chunks_mut(LANES)) {
        let blocks: [[u32; 16]; LANES] = core::array::from_fn(|lane| match inputs.get(lane) {
            Some((sum, count)) => sum.block_words(*count),
            None => [0; 16],
        });
        let words = core::array::from_fn(|t| core::array::from_fn(|lane| blocks[lane][t]));
        let states = compress(&SHA256_INITIAL_STATE, &words);
        for (fingerprint, state) in out.iter_mut().zip(&states) {
            *fingerprint = digest_prefix(state);
        }
    }
}

/// The first 16 bytes of the digest a SHA-256 state stands for.
fn digest_prefix(state: &[u32; 8]) -> [u8; FINGERPRINT_SIZE] {
    let mut fingerprint = [0; FINGERPRINT_SIZE];
    for (chunk, word) in fingerprint.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    fingerprint
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_INITIAL_STATE: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Writes `value` as a varint at the start of `out` (at least 10 bytes); returns its length.
fn write_varint(out: &mut [u8], value: u64) -> usize {
    let len = crate::wire::varint_len(value);
    let mut rest = value;
    for i in (0..len).rev() {
        out[i] = (rest & 0x7F) as u8 | if i + 1 == len { 0 } else { 0x80 };
        rest >>= 7;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn the_empty_range_has_the_fingerprint_every_v1_peer_sends() {
        assert_eq!(
            IdSum::ZERO.fingerprint(0),
            [
                0x7f, 0x9c, 0x9e, 0x31, 0xac, 0x82, 0x56, 0xca, 0x2f, 0x25, 0x85, 0x83, 0xdf, 0x26,
                0x2d, 0xbc
            ]
        );
    }

    #[test]
    fn one_block_compression_equals_sha256() {
        use sha2::{Digest, Sha256};
        let mut sum = IdSum::ZERO;
        for byte in [1u8, 0x80, 0xff] {
            sum.add_id(&Id([byte; 32]));
            for count in [0, 1, 127, 128, 300, u64::MAX] {
                let mut input = Vec::new();
                for limb in &sum.0 {
                    input.extend_from_slice(&limb.to_le_bytes());
                }
                let mut varint = [0u8; 10];
                let len = write_varint(&mut varint, count);
                input.extend_from_slice(&varint[..len]);
                assert_eq!(sum.fingerprint(count)[..], Sha256::digest(&input)[..16]);
            }
        }
    }

    #[test]
    fn batches_equal_one_at_a_time_on_either_path() {
        let mut sum = IdSum::ZERO;
        let counts = [0, 1, 127, 128, 16_383, 16_384, u64::MAX];
        let inputs: Vec<FingerprintInput> = (0..BATCH + 3)
            .map(|i| {
                sum.add_id(&Id([i as u8 ^ 0x5a; 32]));
                (sum, counts[i % counts.len()].wrapping_sub(i as u64))
            })
            .collect();
        let expected: Vec<_> = inputs.iter().map(|(s, c)| s.fingerprint(*c)).collect();
        for len in 0..=BATCH {
            for start in [0, 3] {
                let (inputs, expected) =
                    (&inputs[start..start + len], &expected[start..start + len]);
                let mut out = [[0u8; FINGERPRINT_SIZE]; BATCH];
                fingerprint_each(len, |i| inputs[i], &mut out[..len]);
                assert_eq!(out[..len], *expected);
                #[cfg(target_arch = "x86_64")]
                {
                    let mut lanes = [[0u8; FINGERPRINT_SIZE]; BATCH];
                    fingerprint_lanes(inputs, &mut lanes[..len]);
                    assert_eq!(lanes[..len], *expected);
                }
            }
        }
    }

    #[test]
    fn sums_wrap_and_subtraction_undoes_addition() {
        let max = Id([0xff; 32]);
        let one = Id(core::array::from_fn(|i| u8::from(i == 0)));
        let mut sum = IdSum::ZERO;
        sum.add_id(&max);
        sum.add_id(&one);
        assert_eq!(sum, IdSum::ZERO, "2^256 - 1 + 1 wraps to 0");
        sum.sub_id(&one);
        assert_eq!(sum, IdSum([u64::MAX; 4]));
        let mut carry = IdSum::ZERO;
        carry.add_id(&Id(core::array::from_fn(|i| if i < 8 { 0xff } else { 0 })));
        carry.add_id(&one);
        assert_eq!(carry, IdSum([0, 1, 0, 0]), "a carry crosses limbs");
    }
}
