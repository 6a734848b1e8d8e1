//! Turning connection failures into messages a person can act on.

use anyhow::{Result, anyhow};
use iroh::endpoint::{Connection, ConnectionError, TransportErrorCode, VarInt};
use iroh::{Endpoint, EndpointAddr};
use tokio::time::timeout;

use super::{ALPN, Config};

/// The application close code of a sync that failed; the close reason says why.
const FAILED: u32 = 1;

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
    let mut reason = format!("{error:#}");
    // A close frame must fit in one packet.
    if reason.len() > 400 {
        let mut end = 400;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    connection.close(VarInt::from_u32(FAILED), reason.as_bytes());
}

/// When the peer closed the connection as failed, its reason is the better message.
pub(crate) fn explain(error: anyhow::Error) -> anyhow::Error {
    let reason = error
        .chain()
        .find_map(|cause| match cause.downcast_ref::<ConnectionError>() {
            Some(ConnectionError::ApplicationClosed(close))
                if close.error_code == VarInt::from_u32(FAILED) =>
            {
                Some(String::from_utf8_lossy(&close.reason).into_owned())
            }
            _ => None,
        });
    match reason {
        Some(reason) => anyhow!("the peer ended the sync: {reason}"),
        None => error,
    }
}
