//! How a frame size limit shapes the messages a side sends.

use crate::error::Error;

/// The smallest frame size limit negsync accepts (0 means none). See [`Framing::Radio`] for what
/// a frame this small can and cannot carry.
pub(crate) const MIN_FRAME_SIZE_LIMIT: u64 = 128;

/// From this limit on (and with none), messages equal the `negentropy` crate's byte for byte.
const CRATE_MIN_FRAME_SIZE_LIMIT: u64 = 4096;

/// The crate stops adding ranges once its output would pass `limit - 200`.
const CRATE_SLACK: usize = 200;

/// A closing range: a bound at infinity (2 bytes), the mode (1) and a fingerprint (16).
pub(crate) const CLOSING_RANGE_SIZE: usize = 19;

/// The frame size rules of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No limit: every range is answered in one message.
    Unlimited,
    /// 4,096 bytes or more: the crate's rules exactly. A range's answer is dropped whole once the
    /// message would pass `limit - 200`, and a fingerprint up to infinity closes the message.
    Crate { limit: usize },
    /// Under 4,096 bytes (radio links): every piece is checked to fit before it stays, always
    /// leaving room for the closing fingerprint; splits use as many buckets as fit (2 to 16); ID
    /// lists are sent only when they fit whole, and an ID list from the peer whose answer does
    /// not fit is answered with fingerprints of sub-ranges. When no piece of a range fits a
    /// message on its own, the start of the range is answered alone, ended at a bound that
    /// costs little. A message never passes `limit`.
    Radio { capacity: usize },
}

impl Framing {
    pub(crate) fn new(frame_size_limit: u64) -> Result<Self, Error> {
        let limit = usize::try_from(frame_size_limit).unwrap_or(usize::MAX);
        match frame_size_limit {
            0 => Ok(Self::Unlimited),
            CRATE_MIN_FRAME_SIZE_LIMIT.. => Ok(Self::Crate { limit }),
            MIN_FRAME_SIZE_LIMIT.. => Ok(Self::Radio {
                capacity: limit - CLOSING_RANGE_SIZE,
            }),
            _ => Err(Error::InvalidArgument(
                "frame_size_limit must be 0 (none) or at least 128",
            )),
        }
    }

    /// Radio rules: the most a message may hold before its closing range (unbounded under the
    /// other framings, whose cuts follow the crate's rule instead).
    pub(crate) fn capacity(&self) -> usize {
        match *self {
            Self::Radio { capacity } => capacity,
            Self::Unlimited | Self::Crate { .. } => usize::MAX,
        }
    }

    /// Crate rules: true once a message of `len` bytes must be cut.
    pub(crate) fn crate_must_cut(&self, len: usize) -> bool {
        match *self {
            Self::Crate { limit } => len > limit - CRATE_SLACK,
            Self::Unlimited | Self::Radio { .. } => false,
        }
    }
}
