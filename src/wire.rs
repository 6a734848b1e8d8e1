//! Strict validation of Negentropy V1 messages (see shared/PROTOCOL.md).
//!
//! Other V1 decoders (the `negentropy` crate's among them) read a truncated varint as a value and
//! let over-long ones wrap, so a cut-short message could read as "everything matches" and end a
//! sync that is not complete. Every
//! message from a peer is read once, by [`Ranges`], the strict decoder that [`validate`] is built
//! on; replies are written by [`Writer`].

use core::fmt;

use crate::id::{Id, Item};

mod writer;
pub(crate) use writer::{Checkpoint, Writer, varint_len};

/// The protocol version negsync speaks (Negentropy V1).
pub const PROTOCOL_VERSION: u8 = 0x61;

/// A u64 varint never needs more than this many bytes.
const MAX_VARINT_BYTES: usize = 10;
/// Bytes in a range fingerprint.
pub(crate) const FINGERPRINT_SIZE: usize = 16;
const ID_SIZE: usize = crate::id::ID_SIZE;
const MAX_PREFIX_LEN: u64 = ID_SIZE as u64;

/// What is wrong with a message, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// Byte offset in the message where the fault was found.
    pub offset: usize,
    /// The fault.
    pub kind: MalformedKind,
}

/// The classes of malformed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedKind {
    /// Zero bytes: not even a version byte.
    Empty,
    /// The first byte is outside 0x60..=0x6F, so this is not Negentropy at all.
    NotNegentropy(u8),
    /// The message ends inside a varint.
    TruncatedVarint,
    /// A varint longer than 10 bytes, or one whose value does not fit in 64 bits.
    OverlongVarint,
    /// A bound's ID prefix is longer than 32 bytes.
    PrefixTooLong(u64),
    /// The message ends inside a bound's ID prefix.
    TruncatedBound,
    /// A range's upper bound is lower than the one before it.
    BoundDecreasing,
    /// A bound at infinity (timestamp u64::MAX) that carries an ID prefix. No item can sit at
    /// infinity, so no implementation needs one; and answering it makes the engine close its
    /// frame-cut reply with plain infinity, a bound lower than the one before it.
    PrefixAtInfinity,
    /// A range mode other than 0 (Skip), 1 (Fingerprint), 2 (IdList).
    UnknownMode(u64),
    /// The message ends inside a fingerprint.
    TruncatedFingerprint,
    /// An ID list claims more IDs than the message holds.
    TruncatedIdList,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match self.kind {
            MalformedKind::Empty => write!(f, "empty message"),
            MalformedKind::NotNegentropy(byte) => {
                write!(f, "first byte 0x{byte:02x} is not a Negentropy version")
            }
            MalformedKind::TruncatedVarint => write!(f, "message ends inside a varint at {at}"),
            MalformedKind::OverlongVarint => write!(f, "varint too long at {at}"),
            MalformedKind::PrefixTooLong(len) => {
                write!(f, "bound prefix of {len} bytes (max 32) at {at}")
            }
            MalformedKind::TruncatedBound => write!(f, "message ends inside a bound at {at}"),
            MalformedKind::BoundDecreasing => {
                write!(f, "bound lower than the one before it at {at}")
            }
            MalformedKind::PrefixAtInfinity => {
                write!(f, "bound at infinity with an ID prefix at {at}")
            }
            MalformedKind::UnknownMode(mode) => write!(f, "unknown range mode {mode} at {at}"),
            MalformedKind::TruncatedFingerprint => {
                write!(f, "message ends inside a fingerprint at {at}")
            }
            MalformedKind::TruncatedIdList => {
                write!(f, "ID list longer than the message at {at}")
            }
        }
    }
}

/// What a valid V1 message holds, by range mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Ranges of mode Skip.
    pub skip_ranges: usize,
    /// Ranges of mode Fingerprint: each one asks the peer for another round.
    pub fingerprint_ranges: usize,
    /// Ranges of mode IdList.
    pub id_list_ranges: usize,
    /// IDs carried by all the ID lists together.
    pub ids: usize,
}

impl Summary {
    /// All ranges in the message.
    pub fn ranges(&self) -> usize {
        self.skip_ranges + self.fingerprint_ranges + self.id_list_ranges
    }
}

/// The version byte of a message: a Negentropy version (0x60..=0x6F), or why it is none.
pub fn version(message: &[u8]) -> Result<u8, Malformed> {
    match message.first() {
        None => Err(Malformed {
            offset: 0,
            kind: MalformedKind::Empty,
        }),
        Some(&byte) if (0x60..=0x6F).contains(&byte) => Ok(byte),
        Some(&byte) => Err(Malformed {
            offset: 0,
            kind: MalformedKind::NotNegentropy(byte),
        }),
    }
}

/// Checks a whole V1 message (version byte 0x61 included) and summarises it.
///
/// A message of another Negentropy version is reported as such by [`version`]; this function is
/// only for messages whose version byte is [`PROTOCOL_VERSION`].
pub fn validate(message: &[u8]) -> Result<Summary, Malformed> {
    let mut summary = Summary::default();
    for range in Ranges::new(message)? {
        match range?.payload {
            Payload::Skip => summary.skip_ranges += 1,
            Payload::Fingerprint(_) => summary.fingerprint_ranges += 1,
            Payload::IdList(ids) => {
                summary.ids += ids.len() / ID_SIZE;
                summary.id_list_ranges += 1;
            }
        }
    }
    Ok(summary)
}

/// A range bound: a timestamp and an ID prefix, compared as the prefix padded with zero bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    pub(crate) timestamp: u64,
    /// The prefix followed by zero bytes.
    pub(crate) padded_prefix: [u8; ID_SIZE],
    /// How many bytes of `padded_prefix` go on the wire.
    pub(crate) prefix_len: u8,
}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Bounds order as the items they separate: the prefix length itself carries no order.
impl Ord for Bound {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.timestamp, &self.padded_prefix).cmp(&(other.timestamp, &other.padded_prefix))
    }
}

impl Bound {
    pub(crate) const LOWEST: Bound = Bound::at_timestamp(0);
    pub(crate) const INFINITY: Bound = Bound::at_timestamp(u64::MAX);

    pub(crate) const fn at_timestamp(timestamp: u64) -> Bound {
        Bound {
            timestamp,
            padded_prefix: [0; ID_SIZE],
            prefix_len: 0,
        }
    }

    /// The bound that is exactly this item (the whole ID as prefix).
    pub(crate) fn of_item(item: &Item) -> Bound {
        Bound {
            timestamp: item.timestamp,
            padded_prefix: item.id.0,
            prefix_len: ID_SIZE as u8,
        }
    }

    /// The shortest bound above `below` and at most `item`, where `below < item`: the
    /// timestamp alone when they differ, else the ID prefix one byte past the shared one.
    pub(crate) fn between(below: &Item, item: &Item) -> Bound {
        if below.timestamp != item.timestamp {
            return Bound::at_timestamp(item.timestamp);
        }
        let shared = below
            .id
            .0
            .iter()
            .zip(&item.id.0)
            .take_while(|(a, b)| a == b)
            .count();
        let len = (shared + 1).min(ID_SIZE);
        let mut padded_prefix = [0; ID_SIZE];
        padded_prefix[..len].copy_from_slice(&item.id.0[..len]);
        Bound {
            timestamp: item.timestamp,
            padded_prefix,
            prefix_len: len as u8,
        }
    }

    /// True when `item` sorts below this bound.
    #[inline]
    pub(crate) fn is_above(&self, item: &Item) -> bool {
        item.timestamp < self.timestamp
            || (item.timestamp == self.timestamp && item.id < Id(self.padded_prefix))
    }
}

/// What a range asks of the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payload<'a> {
    /// The sender found this range equal: nothing to answer.
    Skip,
    /// The sender's fingerprint of the range.
    Fingerprint(&'a [u8; FINGERPRINT_SIZE]),
    /// The sender's IDs in the range, back to back (a multiple of 32 bytes).
    IdList(&'a [u8]),
}

/// One range of a message: it covers the items from the previous range's bound up to `bound`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range<'a> {
    pub(crate) bound: Bound,
    pub(crate) payload: Payload<'a>,
}

impl Range<'_> {
    /// A placeholder (a skip up to the lowest bound) for buffers of ranges.
    pub(crate) const EMPTY: Range<'static> = Range {
        bound: Bound::LOWEST,
        payload: Payload::Skip,
    };
}

/// The strict decoder: yields each range of a V1 message in order, or the first fault (after
/// which it yields nothing more). Every rule of this module holds for each range it yields.
pub(crate) struct Ranges<'a> {
    reader: Reader<'a>,
    previous: Bound,
    failed: bool,
}

impl<'a> Ranges<'a> {
    /// The ranges of `message`, whose version byte must be [`PROTOCOL_VERSION`].
    pub(crate) fn new(message: &'a [u8]) -> Result<Self, Malformed> {
        let first = version(message)?;
        if first != PROTOCOL_VERSION {
            return Err(Malformed {
                offset: 0,
                kind: MalformedKind::NotNegentropy(first),
            });
        }
        Ok(Self {
            reader: Reader { message, offset: 1 },
            previous: Bound::LOWEST,
            failed: false,
        })
    }

    fn range(&mut self) -> Result<Range<'a>, Malformed> {
        let reader = &mut self.reader;
        let bound_offset = reader.offset;
        let bound = reader.bound(self.previous.timestamp)?;
        if bound < self.previous {
            return Err(Malformed {
                offset: bound_offset,
                kind: MalformedKind::BoundDecreasing,
            });
        }
        self.previous = bound;
        let mode_offset = reader.offset;
        let payload = match reader.varint()? {
            0 => Payload::Skip,
            1 => {
                let bytes = reader.skip(FINGERPRINT_SIZE, MalformedKind::TruncatedFingerprint)?;
                Payload::Fingerprint(
                    bytes
                        .try_into()
                        .unwrap_or_else(|_| panic!("skip returns the length asked")),
                )
            }
            2 => {
                let count_offset = reader.offset;
                let count = reader.varint()?;
                let available = (reader.remaining() / ID_SIZE) as u64;
                if count > available {
                    return Err(Malformed {
                        offset: count_offset,
                        kind: MalformedKind::TruncatedIdList,
                    });
                }
                // count <= remaining / 32, so this cannot overflow.
                Payload::IdList(
                    reader.skip(count as usize * ID_SIZE, MalformedKind::TruncatedIdList)?,
                )
            }
            mode => {
                return Err(Malformed {
                    offset: mode_offset,
                    kind: MalformedKind::UnknownMode(mode),
                });
            }
        };
        Ok(Range { bound, payload })
    }
}

impl<'a> Iterator for Ranges<'a> {
    type Item = Result<Range<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.at_end() {
            return None;
        }
        let range = self.range();
        self.failed = range.is_err();
        Some(range)
    }
}

struct Reader<'a> {
    message: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.offset == self.message.len()
    }

    fn remaining(&self) -> usize {
        self.message.len() - self.offset
    }

    fn fail<T>(&self, offset: usize, kind: MalformedKind) -> Result<T, Malformed> {
        Err(Malformed { offset, kind })
    }

    /// Base-128, most significant group first, at most 10 bytes, and the value must fit in a u64.
    fn varint(&mut self) -> Result<u64, Malformed> {
        let start = self.offset;
        let mut value: u64 = 0;
        for used in 1..=MAX_VARINT_BYTES {
            let Some(&byte) = self.message.get(self.offset) else {
                return self.fail(start, MalformedKind::TruncatedVarint);
            };
            self.offset += 1;
            if value >> (64 - 7) != 0 {
                return self.fail(start, MalformedKind::OverlongVarint);
            }
            value = (value << 7) | u64::from(byte & 0x7F);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            if used == MAX_VARINT_BYTES {
                break;
            }
        }
        self.fail(start, MalformedKind::OverlongVarint)
    }

    fn skip(&mut self, len: usize, kind: MalformedKind) -> Result<&'a [u8], Malformed> {
        if self.remaining() < len {
            return self.fail(self.offset, kind);
        }
        let bytes = &self.message[self.offset..self.offset + len];
        self.offset += len;
        Ok(bytes)
    }

    /// Decodes a bound as every V1 peer does: a delta of 0 is infinity, any other `v` is the
    /// previous timestamp plus `v - 1`, saturating (so an overflowing delta also reads as infinity).
    fn bound(&mut self, previous_timestamp: u64) -> Result<Bound, Malformed> {
        let delta = self.varint()?;
        let timestamp = match delta {
            0 => u64::MAX,
            delta => (delta - 1).saturating_add(previous_timestamp),
        };
        let length_offset = self.offset;
        let prefix_len = self.varint()?;
        if prefix_len > MAX_PREFIX_LEN {
            return self.fail(length_offset, MalformedKind::PrefixTooLong(prefix_len));
        }
        if timestamp == u64::MAX && prefix_len != 0 {
            return self.fail(length_offset, MalformedKind::PrefixAtInfinity);
        }
        let prefix = self.skip(prefix_len as usize, MalformedKind::TruncatedBound)?;
        let mut padded_prefix = [0; ID_SIZE];
        padded_prefix[..prefix.len()].copy_from_slice(prefix);
        Ok(Bound {
            timestamp,
            padded_prefix,
            prefix_len: prefix_len as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(message: &[u8]) -> MalformedKind {
        validate(message).expect_err("must be malformed").kind
    }

    const EMPTY_FINGERPRINT: [u8; 16] = [
        0x7f, 0x9c, 0x9e, 0x31, 0xac, 0x82, 0x56, 0xca, 0x2f, 0x25, 0x85, 0x83, 0xdf, 0x26, 0x2d,
        0xbc,
    ];

    #[test]
    fn bare_version_is_a_message_with_no_ranges() {
        assert_eq!(validate(&[0x61]), Ok(Summary::default()));
    }

    #[test]
    fn truncations_that_the_engine_reads_as_a_match_are_rejected() {
        assert_eq!(kind(&[0x61, 0x80]), MalformedKind::TruncatedVarint);
        assert_eq!(kind(&[0x61, 0x00]), MalformedKind::TruncatedVarint);
        assert_eq!(kind(&[0x61, 0x00, 0x00]), MalformedKind::TruncatedVarint);
    }

    #[test]
    fn each_field_checks_its_length() {
        assert_eq!(kind(&[0x61, 0x00, 0x21]), MalformedKind::PrefixTooLong(33));
        assert_eq!(
            kind(&[0x61, 0x05, 0x02, 0xaa]),
            MalformedKind::TruncatedBound
        );
        assert_eq!(
            kind(&[0x61, 0x00, 0x00, 0x03]),
            MalformedKind::UnknownMode(3)
        );
        assert_eq!(
            kind(&[0x61, 0x00, 0x00, 0x01, 1, 2, 3]),
            MalformedKind::TruncatedFingerprint
        );
        let mut one_id_short = vec![0x61, 0x00, 0x00, 0x02, 0x02];
        one_id_short.extend([0xbb; 32]);
        assert_eq!(kind(&one_id_short), MalformedKind::TruncatedIdList);
        // A count of 2^34 IDs with none following must not be believed.
        assert_eq!(
            kind(&[0x61, 0x00, 0x00, 0x02, 0xc0, 0x80, 0x80, 0x80, 0x00]),
            MalformedKind::TruncatedIdList
        );
    }

    #[test]
    fn varints_are_at_most_ten_bytes_and_fit_in_u64() {
        // u64::MAX is 0x81 followed by eight 0xff and a 0x7f: ten bytes, accepted.
        let max = [
            0x61, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00,
        ];
        assert_eq!(validate(&max).map(|s| s.skip_ranges), Ok(1));
        // One bit more than a u64 holds.
        let overflow = [
            0x61, 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(kind(&overflow), MalformedKind::OverlongVarint);
        // Eleven bytes, even of a small value.
        let mut eleven = vec![0x61];
        eleven.extend([0x80; 10]);
        eleven.push(0x01);
        assert_eq!(kind(&eleven), MalformedKind::OverlongVarint);
    }

    #[test]
    fn bounds_never_go_backwards_but_may_repeat() {
        // (5, prefix 01) twice: equal bounds are legal.
        assert_eq!(
            validate(&[0x61, 0x06, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00])
                .map(|s| s.skip_ranges),
            Ok(2)
        );
        // (5, prefix 01), then (5 + 0, no prefix): lower, so malformed.
        assert_eq!(
            kind(&[0x61, 0x06, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00]),
            MalformedKind::BoundDecreasing
        );
        // The crate's frame-cut tail: a range at infinity, then an empty one at infinity again.
        let mut tail = vec![0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01];
        tail.extend(EMPTY_FINGERPRINT);
        assert_eq!(validate(&tail).map(|s| s.ranges()), Ok(2));
    }

    #[test]
    fn infinity_carries_no_prefix() {
        // As the delta 0.
        assert_eq!(
            kind(&[0x61, 0x00, 0x01, 0x01, 0x02, 0x00]),
            MalformedKind::PrefixAtInfinity
        );
        // As a delta that saturates: a bound at 5, then 5 + (u64::MAX - 1).
        let mut saturating = vec![0x61, 0x06, 0x00, 0x00, 0x81];
        saturating.extend([0xff; 8]);
        saturating.extend([0x7f, 0x01, 0x05, 0x00]);
        assert_eq!(kind(&saturating), MalformedKind::PrefixAtInfinity);
        // Infinity without a prefix is the ordinary last bound.
        assert_eq!(
            validate(&[0x61, 0x00, 0x00, 0x00]).map(|s| s.skip_ranges),
            Ok(1)
        );
    }

    #[test]
    fn versions() {
        assert_eq!(version(&[]).unwrap_err().kind, MalformedKind::Empty);
        assert_eq!(version(&[0x60]), Ok(0x60));
        assert_eq!(version(&[0x6f, 0xff]), Ok(0x6f));
        assert_eq!(
            version(&[0x70]).unwrap_err().kind,
            MalformedKind::NotNegentropy(0x70)
        );
        assert_eq!(kind(&[0x62]), MalformedKind::NotNegentropy(0x62));
    }
}
