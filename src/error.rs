//! The one error type of the core. Each variant maps onto exactly one C result code; the two codes
//! that only the C ABI can produce (a NULL pointer, a caught panic) have no variant here.

use core::fmt;

use crate::wire::Malformed;

/// Which of a session's [`Limits`](crate::Limits) a peer ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A message from the peer was larger than `max_message_size`.
    MessageSize,
    /// The session went past `max_rounds` messages received.
    Rounds,
    /// The have/need ID lists would have grown past `max_id_bytes`.
    IdBytes,
    /// This side's frame size limit (under 4,096 bytes) cannot hold even one range of the
    /// answer, so the exchange could not progress: bounds this long need a larger frame.
    FrameSize,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The caller passed a value the API does not accept (a frame limit of 1..=4095, a reserved
    /// timestamp, arrays of different lengths, ...).
    InvalidArgument(&'static str),
    /// A message from the peer is not well-formed Negentropy: it is never handed to the engine.
    MalformedMessage(Malformed),
    /// The peer (a responder) speaks another protocol version; only an initiator fails on this.
    UnsupportedVersion(u8),
    /// The call does not fit the session's state (initiate twice, reconcile after completion, ...).
    WrongState(&'static str),
    /// The peer pushed the session past one of its limits; the session refuses further input.
    LimitExceeded(Limit),
    /// The engine failed where it cannot on valid input: a bug in negsync, reported not hidden.
    Internal(&'static str),
    /// The allocator refused a buffer the session keeps (a firmware heap ran out). The session
    /// has failed; the set is untouched. Only where negsync can tell: see docs/firmware.md for
    /// the allocations that still end in an allocation-failure abort (the firmware panic hook).
    OutOfMemory,
}

impl From<alloc::collections::TryReserveError> for Error {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        Self::OutOfMemory
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Self::MalformedMessage(malformed) => write!(f, "malformed message: {malformed}"),
            Self::UnsupportedVersion(version) => {
                write!(f, "peer speaks protocol version 0x{version:02x}, not 0x61")
            }
            Self::WrongState(why) => write!(f, "wrong state: {why}"),
            Self::LimitExceeded(Limit::MessageSize) => {
                write!(f, "limit exceeded: message larger than max_message_size")
            }
            Self::LimitExceeded(Limit::Rounds) => write!(f, "limit exceeded: too many rounds"),
            Self::LimitExceeded(Limit::IdBytes) => {
                write!(
                    f,
                    "limit exceeded: have/need lists larger than max_id_bytes"
                )
            }
            Self::LimitExceeded(Limit::FrameSize) => write!(
                f,
                "limit exceeded: the frame size limit cannot hold one range of the answer"
            ),
            Self::Internal(what) => write!(f, "internal error (a bug in negsync): {what}"),
            Self::OutOfMemory => write!(f, "out of memory: the allocator refused a buffer"),
        }
    }
}

impl core::error::Error for Error {}

impl From<Malformed> for Error {
    fn from(malformed: Malformed) -> Self {
        Self::MalformedMessage(malformed)
    }
}
