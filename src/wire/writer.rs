//! Writes V1 messages into a buffer the caller keeps: bounds delta-encoded as every V1 peer
//! expects, with checkpoints so a range that turns out not to fit can be taken back.

use alloc::vec::Vec;

use super::{Bound, FINGERPRINT_SIZE, PROTOCOL_VERSION};

const MODE_SKIP: u8 = 0;
const MODE_FINGERPRINT: u8 = 1;
const MODE_ID_LIST: u8 = 2;

/// Appends one message to `out`. The previous bound's timestamp is the writer's only state:
/// each bound is written as the difference from it.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    last_timestamp: u64,
}

/// Where a message stood; [`Writer::rewind`] returns to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    len: usize,
    last_timestamp: u64,
}

impl Checkpoint {
    /// The message's length at this checkpoint.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl<'a> Writer<'a> {
    /// Clears `out` (keeping its capacity) and writes the version byte.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.clear();
        out.push(PROTOCOL_VERSION);
        Self {
            out,
            last_timestamp: 0,
        }
    }

    /// Bytes written so far, the version byte included.
    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.out.len(),
            last_timestamp: self.last_timestamp,
        }
    }

    pub(crate) fn rewind(&mut self, to: Checkpoint) {
        self.out.truncate(to.len);
        self.last_timestamp = to.last_timestamp;
    }

    pub(crate) fn skip(&mut self, bound: &Bound) {
        self.bound(bound);
        self.out.push(MODE_SKIP);
    }

    pub(crate) fn fingerprint(&mut self, bound: &Bound, fingerprint: &[u8; FINGERPRINT_SIZE]) {
        self.bound(bound);
        self.out.push(MODE_FINGERPRINT);
        self.out.extend_from_slice(fingerprint);
    }

    /// An ID-list range: the bound, the mode and the count; the caller appends the IDs with
    /// [`id`](Self::id).
    pub(crate) fn id_list_header(&mut self, bound: &Bound, count: usize) {
        self.bound(bound);
        self.out.push(MODE_ID_LIST);
        self.varint(count as u64);
    }

    pub(crate) fn id(&mut self, id: &[u8; 32]) {
        self.out.extend_from_slice(id);
    }

    fn bound(&mut self, bound: &Bound) {
        if bound.timestamp == u64::MAX {
            self.last_timestamp = u64::MAX;
            self.varint(0);
        } else {
            let delta = bound.timestamp.saturating_sub(self.last_timestamp);
            self.last_timestamp = bound.timestamp;
            self.varint(delta.saturating_add(1));
        }
        self.varint(u64::from(bound.prefix_len));
        self.out
            .extend_from_slice(&bound.padded_prefix[..usize::from(bound.prefix_len)]);
    }

    /// Base-128, most significant group first.
    fn varint(&mut self, value: u64) {
        let mut groups = [0u8; 10];
        let mut start = groups.len();
        let mut rest = value;
        loop {
            start -= 1;
            groups[start] = (rest & 0x7F) as u8 | if start == groups.len() - 1 { 0 } else { 0x80 };
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&groups[start..]);
    }
}

/// Bytes of a varint holding `value`.
pub(crate) fn varint_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out);
        writer.varint(value);
        out[1..].to_vec()
    }

    #[test]
    fn varints_are_most_significant_group_first() {
        assert_eq!(varint_bytes(0), [0x00]);
        assert_eq!(varint_bytes(127), [0x7f]);
        assert_eq!(varint_bytes(128), [0x81, 0x00]);
        assert_eq!(varint_bytes(300), [0x82, 0x2c]);
        assert_eq!(
            varint_bytes(u64::MAX),
            [0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        );
        for value in [0, 1, 127, 128, 16383, 16384, u64::MAX >> 1, u64::MAX] {
            assert_eq!(varint_len(value), varint_bytes(value).len(), "{value}");
        }
    }

    #[test]
    fn bounds_are_deltas_and_a_rewind_restores_the_base() {
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out);
        writer.skip(&Bound::at_timestamp(10));
        let mark = writer.checkpoint();
        writer.skip(&Bound::at_timestamp(15));
        writer.rewind(mark);
        writer.skip(&Bound::at_timestamp(12));
        writer.skip(&Bound::INFINITY);
        assert_eq!(out, [0x61, 11, 0, 0, 3, 0, 0, 0, 0, 0]);
    }
}
