//! SHA-256 of sixteen one-block messages side by side, for x86-64 CPUs without SHA instructions.
//!
//! The compression (FIPS 180-4, 6.2.2) is written as loops over [`LANES`] messages, one step of
//! the algorithm for every message in turn, which the compiler turns into SSE2 vector
//! instructions (every x86-64 has them) four messages at a time: no `unsafe`, no intrinsics.
//! Measured here (2026-12-02): about 76 ns a fingerprint against 160 ns for `sha2`'s portable code;
//! `sha2` with the CPU's SHA instructions takes 42 ns, so [`super::fingerprint`] uses this only
//! where those are missing. Sixteen lanes, not fewer: at four or eight the compiler unrolls the
//! loops whole and no longer vectorizes them (measured: no faster than the portable code).

/// Messages hashed together.
pub(crate) const LANES: usize = 16;

/// One 32-bit word of every lane.
type Words = [u32; LANES];

/// The round constants (FIPS 180-4, 4.2.2).
#[rustfmt::skip]
const K: [u32; 64] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5,
    0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3,
    0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc,
    0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13,
    0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3,
    0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5,
    0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208,
    0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
];

/// Compresses one block per lane, each starting from `initial`, given the blocks' 16 words
/// (big-endian, as FIPS 180-4 reads them) lane by lane: `words[t][lane]`. Returns each lane's
/// state. Never inlined: a profile then counts its calls (benches/callgrind_profile.py), and one
/// call per sixteen fingerprints costs nothing measurable.
#[inline(never)]
pub(crate) fn compress(initial: &[u32; 8], words: &[Words; 16]) -> [[u32; 8]; LANES] {
    // The message schedule, as a rolling window of its last 16 words.
    let mut schedule = *words;
    // The working variables a..h, named by where they start; each round renames them instead of
    // moving them: round r of eight finds `a` at index (8 - r) % 8.
    let mut state: [Words; 8] = core::array::from_fn(|i| [initial[i]; LANES]);
    for first in (0..64).step_by(8) {
        // Written out so that every index into `state` is a constant.
        round(&mut state, 0, first, &mut schedule);
        round(&mut state, 7, first + 1, &mut schedule);
        round(&mut state, 6, first + 2, &mut schedule);
        round(&mut state, 5, first + 3, &mut schedule);
        round(&mut state, 4, first + 4, &mut schedule);
        round(&mut state, 3, first + 5, &mut schedule);
        round(&mut state, 2, first + 6, &mut schedule);
        round(&mut state, 1, first + 7, &mut schedule);
    }
    core::array::from_fn(|lane| core::array::from_fn(|i| initial[i].wrapping_add(state[i][lane])))
}

/// Word `t` of the schedule (t >= 16), in place of word `t - 16`.
#[inline(always)]
fn extend_schedule(schedule: &mut [Words; 16], t: usize) {
    let [minus_2, minus_7, minus_15] = [t - 2, t - 7, t - 15].map(|i| schedule[i % 16]);
    for (lane, word) in schedule[t % 16].iter_mut().enumerate() {
        let (x, y) = (minus_2[lane], minus_15[lane]);
        let sigma1 = x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10);
        let sigma0 = y.rotate_right(7) ^ y.rotate_right(18) ^ (y >> 3);
        *word = sigma1
            .wrapping_add(minus_7[lane])
            .wrapping_add(sigma0)
            .wrapping_add(*word);
    }
}

/// Round `t` for every lane, with `a` at index `a` of `state` (and b..h after it, wrapping):
/// only `d` and `h` change; the next round reads them as `e` and `a`.
#[inline(always)]
fn round(state: &mut [Words; 8], a: usize, t: usize, schedule: &mut [Words; 16]) {
    if t >= 16 {
        extend_schedule(schedule, t);
    }
    let at = |offset: usize| (a + offset) % 8;
    let (k, words) = (K[t], &schedule[t % 16]);
    for (lane, &word) in words.iter().enumerate() {
        let [a, b, c, d, e, f, g, h] = core::array::from_fn(|i| state[at(i)][lane]);
        let big_sigma1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let choose = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(big_sigma1)
            .wrapping_add(choose)
            .wrapping_add(k)
            .wrapping_add(word);
        let big_sigma0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        state[at(3)][lane] = d.wrapping_add(t1);
        state[at(7)][lane] = t1.wrapping_add(big_sigma0).wrapping_add(majority);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::compress256;
    use sha2::digest::generic_array::GenericArray;

    #[test]
    fn every_lane_equals_the_scalar_compression() {
        let mut next = crate::test_rng::xorshift64(0x9e37_79b9_7f4a_7c15);
        let mut next_byte = move || next() as u8;
        let initial: [u32; 8] = core::array::from_fn(|i| 0x0101_0101 * (i as u32 + 1));
        for _ in 0..20 {
            let blocks: [[u8; 64]; LANES] =
                core::array::from_fn(|_| core::array::from_fn(|_| next_byte()));
            let words = core::array::from_fn(|t| {
                core::array::from_fn(|lane| {
                    u32::from_be_bytes(blocks[lane][t * 4..t * 4 + 4].try_into().unwrap())
                })
            });
            let lanes = compress(&initial, &words);
            for (block, got) in blocks.iter().zip(&lanes) {
                let mut expected = initial;
                compress256(&mut expected, &[*GenericArray::from_slice(block)]);
                assert_eq!(*got, expected);
            }
        }
    }
}
