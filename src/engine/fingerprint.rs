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
        for (chunk, limb) in block.chunks_exact_mut(8).zip(&self.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        let len = 32 + write_varint(&mut block[32..], count);
        block[len] = 0x80;
        block[56..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
        let mut state = SHA256_INITIAL_STATE;
        compress256(&mut state, core::slice::from_ref(&block));
        let mut fingerprint = [0; FINGERPRINT_SIZE];
        for (chunk, word) in fingerprint.chunks_exact_mut(4).zip(&state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        fingerprint
    }
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
