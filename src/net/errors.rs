//! Turning connection failures into messages a person can act on.

use std::time::Duration;

use anyhow::{Result, anyhow};
use iroh::endpoint::{Connection, ConnectionError, TransportErrorCode, VarInt};
use iroh::{Endpoint, EndpointAddr};
use tokio::time::timeout;

use super::text::escape;
use super::{ALPN, Config};

/// The application close code of a sync that failed; the close reason says why.
const FAILED: u32 = 1;

/// The application close code of a server that has no session for this peer now; the reason is
/// `retry after MS ms: WHY`.
const BUSY: u32 = 2;

/// The application close code of a server that does not allow this peer; the reason says why.
const NOT_ALLOWED: u32 = 3;

/// The error of a sync the peer could not take now: try again after `retry_after`.
#[derive(Debug)]
pub struct Busy {
    /// How long the peer asked us to wait.
    pub retry_after: Duration,
    /// Why, as the peer said it (escaped).
    pub reason: String,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the peer is busy ({}); retry after {:.1} s",
            self.reason,
            self.retry_after.as_secs_f64()
        )
    }
}

impl std::error::Error for Busy {}

/// Closes `connection` because the server has no session for the peer now.
pub(crate) fn close_busy(connection: &Connection, retry_after: Duration, why: &str) {
    let reason = format!("retry after {} ms: {why}", retry_after.as_millis());
    connection.close(VarInt::from_u32(BUSY), clip(reason).as_bytes());
}

/// Closes `connection` because the peer is not allowed.
pub(crate) fn close_not_allowed(connection: &Connection, why: &str) {
    connection.close(
        VarInt::from_u32(NOT_ALLOWED),
        clip(why.to_string()).as_bytes(),
    );
}

/// A close reason must fit in one packet.
fn clip(mut reason: String) -> String {
    if reason.len() > 400 {
        let mut end = 400;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// TLS alert `no_application_protocol`: the server speaks none of the client's ALPNs.
const NO_APPLICATION_PROTOCOL: u8 = 120;

/// TLS alert `unknown_ca`: the server's certificate is not the key of the endpoint ID dialed.
const UNKNOWN_CA: u8 = 48;

/// Connects to `peer` with [`ALPN`], explaining the usual failures: nothing answers, the peer is
/// another endpoint than the one named, or it speaks another protocol.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    peer: EndpointAddr,
    config: &Config,
) -> Result<Connection> {
    let id = peer.id;
    let at = peer
        .ip_addrs()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let at = if at.is_empty() {
        "no address".into()
    } else {
        at
    };
    let error = match timeout(config.connect_timeout, endpoint.connect(peer, ALPN)).await {
        Ok(Ok(connection)) => return Ok(connection),
        Err(_) => {
            return Err(anyhow!(
                "cannot reach peer {id} at {at}: no answer within {} s (is `negsync serve` \
                 running there, and is the address right?)",
                config.connect_timeout.as_secs_f64()
            ));
        }
        Ok(Err(error)) => anyhow::Error::from(error),
    };
    let cause = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ConnectionError>());
    let explained = match cause {
        Some(ConnectionError::ConnectionClosed(close))
            if close.error_code == TransportErrorCode::crypto(NO_APPLICATION_PROTOCOL) =>
        {
            anyhow!(
                "the peer at {at} does not speak negsync: it refused the protocol {}",
                String::from_utf8_lossy(ALPN)
            )
        }
        Some(ConnectionError::TransportError(tls))
            if tls.code == TransportErrorCode::crypto(UNKNOWN_CA) =>
        {
            anyhow!(
                "the peer at {at} is not endpoint {id}: its key does not match (wrong endpoint \
                 ID? use the one `negsync serve` printed)"
            )
        }
        // The server's accept queue is full: it refused before the handshake.
        Some(ConnectionError::ConnectionClosed(close))
            if close.error_code == TransportErrorCode::CONNECTION_REFUSED =>
        {
            anyhow::Error::new(Busy {
                retry_after: Duration::from_secs(1),
                reason: format!("the peer at {at} refused the connection"),
            })
        }
        Some(ConnectionError::TimedOut) => anyhow!(
            "cannot reach peer {id} at {at}: the connection timed out (is `negsync serve` \
             running there, and is the address right?)"
        ),
        _ => return Err(error.context(format!("connecting to peer {id} at {at}"))),
    };
    Err(explained)
}

/// Closes `connection` as failed, telling the peer why.
pub(crate) fn close_with(connection: &Connection, error: &anyhow::Error) {
    connection.close(
        VarInt::from_u32(FAILED),
        clip(format!("{error:#}")).as_bytes(),
    );
}

/// A peer that fails a session finishes its streams and closes the connection with its reason
/// at about the same time: when `error` is only what the stream said ("the peer closed its
/// stream"), waits a moment for the connection's close and its reason.
pub(crate) async fn with_peer_reason(
    connection: &Connection,
    error: anyhow::Error,
) -> anyhow::Error {
    if error.chain().any(|cause| cause.is::<ConnectionError>()) {
        return error;
    }
    match timeout(Duration::from_millis(300), connection.closed()).await {
        Ok(closed @ ConnectionError::ApplicationClosed(_)) => {
            anyhow::Error::new(closed).context(format!("{error:#}"))
        }
        _ => error,
    }
}

/// When the peer closed the connection with a reason, its reason (escaped) is the better
/// message; a busy peer's becomes a [`Busy`] error.
pub(crate) fn explain(error: anyhow::Error) -> anyhow::Error {
    let close = error
        .chain()
        .find_map(|cause| match cause.downcast_ref::<ConnectionError>() {
            Some(ConnectionError::ApplicationClosed(close)) => Some(close.clone()),
            _ => None,
        });
    let Some(close) = close else {
        return error;
    };
    let reason = escape(&String::from_utf8_lossy(&close.reason));
    match close.error_code {
        code if code == VarInt::from_u32(FAILED) => anyhow!("the peer ended the sync: {reason}"),
        code if code == VarInt::from_u32(NOT_ALLOWED) => {
            anyhow!("the peer does not allow this endpoint: {reason}")
        }
        code if code == VarInt::from_u32(BUSY) => {
            let (retry_after, why) = parse_busy(&reason);
            anyhow::Error::new(Busy {
                retry_after,
                reason: why,
            })
        }
        _ => error,
    }
}

/// `retry after MS ms: WHY` into its parts (a missing or absurd delay becomes 1 s to 60 s).
fn parse_busy(reason: &str) -> (Duration, String) {
    let parsed = reason.strip_prefix("retry after ").and_then(|rest| {
        let (ms, why) = rest.split_once(" ms: ")?;
        Some((ms.parse::<u64>().ok()?, why.to_string()))
    });
    match parsed {
        Some((ms, why)) => (Duration::from_millis(ms.clamp(100, 60_000)), why),
        None => (Duration::from_secs(1), reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_reason_gives_its_delay_within_bounds() {
        assert_eq!(
            parse_busy("retry after 2500 ms: full"),
            (Duration::from_millis(2500), "full".to_string())
        );
        assert_eq!(
            parse_busy("retry after 99999999 ms: x").0,
            Duration::from_secs(60)
        );
        assert_eq!(parse_busy("nonsense").0, Duration::from_secs(1));
    }
}
