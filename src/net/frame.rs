//! Length-prefixed frames on one QUIC stream.
//!
//! A frame is `u32` big-endian length, then that many bytes: one kind byte and the payload. The
//! length counts the kind byte, so an empty payload has length 1. A frame whose payload is larger
//! than the negotiated limit is an error, found from the length prefix before anything is
//! allocated.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use iroh::endpoint::{ReadExactError, RecvStream, SendStream};
use tokio::time::timeout;

use super::pace::Pace;
use crate::id::{ID_SIZE, Id};

/// The largest payload a hello may carry (before any limit is negotiated).
pub(crate) const HELLO_LIMIT: u32 = 64;

/// What a frame carries. The numbers are on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// Both ways, first: `[version u8][frame limit u32]`.
    Hello = 1,
    /// Both ways during reconciliation: one Negentropy message.
    Reconcile = 2,
    /// Initiator to responder: reconciliation is over. `[documents it will send u64][documents it
    /// asks for u64]`.
    ReconcileDone = 3,
    /// Initiator to responder: IDs it asks for, 32 bytes each.
    Want = 4,
    /// Either way: a document follows. `[id 32][timestamp u64][size u64][key]`, then `Data` frames
    /// carrying exactly `size` bytes.
    Doc = 5,
    /// Either way: the next part of the document announced by `Doc`.
    Data = 6,
    /// Responder to initiator: a wanted document it no longer holds. `[id 32]`.
    Missing = 7,
    /// Initiator to responder: no more wants or documents.
    End = 8,
    /// Responder to initiator, last: `[documents stored u64][documents refused u64]`.
    Finished = 9,
    /// Responder to initiator: a wanted document it does not send because it is larger than
    /// the initiator's announced limit. `[id 32][size u64]`.
    TooLarge = 10,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Hello,
            2 => Self::Reconcile,
            3 => Self::ReconcileDone,
            4 => Self::Want,
            5 => Self::Doc,
            6 => Self::Data,
            7 => Self::Missing,
            8 => Self::End,
            9 => Self::Finished,
            10 => Self::TooLarge,
            _ => return None,
        })
    }
}

/// One received frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub kind: Kind,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The payload, or an error naming `what` was expected when this is another kind of frame.
    pub fn expect(self, kind: Kind, what: &str) -> Result<Vec<u8>> {
        if self.kind == kind {
            return Ok(self.payload);
        }
        Err(self.unexpected(what))
    }

    /// The error for a frame that does not fit here.
    pub fn unexpected(&self, what: &str) -> anyhow::Error {
        anyhow!(
            "protocol error: expected {what}, got a {:?} frame",
            self.kind
        )
    }
}

/// Reads one frame. `Ok(None)`: the peer finished its side of the stream cleanly, between frames.
/// A frame whose payload exceeds `limit`, a truncated frame, an unknown kind, or no frame within
/// the time `pace` allows is an error.
pub(crate) async fn read(recv: &mut RecvStream, limit: u32, pace: &Pace) -> Result<Option<Frame>> {
    pace.check()?;
    let mut prefix = [0u8; 4];
    let wait = pace.wait();
    match timeout(wait, recv.read_exact(&mut prefix)).await {
        Err(_) => return Err(late(pace, wait)),
        Ok(Err(ReadExactError::FinishedEarly(0))) => return Ok(None),
        Ok(Err(ReadExactError::FinishedEarly(n))) => {
            bail!(
                "protocol error: the peer closed its stream inside a frame header ({n} of 4 bytes)"
            )
        }
        Ok(Err(ReadExactError::ReadError(error))) => {
            return Err(error).context("reading from the peer");
        }
        Ok(Ok(())) => {}
    }
    let length = u32::from_be_bytes(prefix);
    if length == 0 {
        bail!("protocol error: the peer sent an empty frame");
    }
    if length - 1 > limit {
        bail!(
            "protocol error: the peer sent a frame of {} bytes, over the negotiated limit of {limit}",
            length - 1
        );
    }
    let mut body = vec![0u8; length as usize];
    let wait = pace.wait();
    match timeout(wait, recv.read_exact(&mut body)).await {
        Err(_) => return Err(late(pace, wait)),
        Ok(Err(ReadExactError::FinishedEarly(n))) => bail!(
            "protocol error: the peer closed its stream inside a frame ({n} of {length} bytes)"
        ),
        Ok(Err(ReadExactError::ReadError(error))) => {
            return Err(error).context("reading from the peer");
        }
        Ok(Ok(())) => {}
    }
    let kind = Kind::from_byte(body[0])
        .ok_or_else(|| anyhow!("protocol error: unknown frame kind 0x{:02x}", body[0]))?;
    body.remove(0);
    pace.moved(4 + length as usize);
    Ok(Some(Frame {
        kind,
        payload: body,
    }))
}

/// Like [`read`], but the end of the stream is an error too.
pub(crate) async fn read_some(
    recv: &mut RecvStream,
    limit: u32,
    pace: &Pace,
    what: &str,
) -> Result<Frame> {
    read(recv, limit, pace).await?.ok_or_else(|| {
        anyhow!("protocol error: the peer closed its stream while we waited for {what}")
    })
}

/// Writes one frame, giving up when the peer takes no data for as long as `pace` allows.
pub(crate) async fn write(
    send: &mut SendStream,
    kind: Kind,
    payload: &[u8],
    limit: u32,
    pace: &Pace,
) -> Result<()> {
    pace.check()?;
    if payload.len() > limit as usize {
        bail!(
            "internal error: a {kind:?} frame of {} bytes is over the limit of {limit}",
            payload.len()
        );
    }
    let mut header = [0u8; 5];
    header[..4].copy_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    header[4] = kind as u8;
    let writing = async {
        send.write_all(&header).await?;
        send.write_all(payload).await
    };
    let wait = pace.wait();
    match timeout(wait, writing).await {
        Err(_) => {
            pace.check()?;
            bail!("the peer took no data for {} s", wait.as_secs_f64())
        }
        Ok(result) => {
            pace.moved(header.len() + payload.len());
            result.context("writing to the peer")
        }
    }
}

/// The error for a read that timed out: the session's time is up, or the peer was silent.
fn late(pace: &Pace, wait: Duration) -> anyhow::Error {
    match pace.check() {
        Err(error) => error,
        Ok(()) => Silent(wait).into(),
    }
}

/// The error for a peer that sent nothing within the round timeout.
#[derive(Debug)]
pub(crate) struct Silent(pub Duration);

impl std::fmt::Display for Silent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the peer sent nothing for {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for Silent {}

/// A little reader over a payload, for the fixed-layout frames.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(payload: &'a [u8], what: &'static str) -> Self {
        Self {
            rest: payload,
            what,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            bail!("protocol error: a {} frame is too short", self.what);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into()?))
    }

    pub fn id(&mut self) -> Result<Id> {
        Ok(Id(self.take(ID_SIZE)?.try_into()?))
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.rest
    }

    /// Fails unless everything was read.
    pub fn end(self) -> Result<()> {
        if !self.rest.is_empty() {
            bail!("protocol error: a {} frame is too long", self.what);
        }
        Ok(())
    }
}
