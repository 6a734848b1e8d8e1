//! The transport (feature `iroh`): sync two nodes over an iroh QUIC connection, documents and all.
//!
//! One sync is one connection with ALPN [`ALPN`] and one bidirectional stream, kept open for every
//! round. Messages travel in length-prefixed frames: `u32` big-endian length, a kind byte, the
//! payload. First each side announces the largest frame payload it accepts ([`Config::frame_limit`],
//! 4096 bytes to 16 MiB); the smaller of the two is the session's limit, both for the
//! Negentropy messages (it is their frame size limit) and for every other frame, and a frame over
//! it is an error. Then the initiator reconciles, sends the documents the peer lacks and asks for
//! the ones it lacks, so both sides end with the union. Each received document is checked against
//! its ID ([`DocumentStore::id_of`]) before it is stored, and refused when it does not match.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use negsync::ItemSet;
//! use negsync::net::{self, Config, DirStore, Progress};
//!
//! // The serving node.
//! let store = Arc::new(DirStore::open("served")?);
//! let set = Arc::new(ItemSet::new());
//! let server = net::bind("127.0.0.1:0".parse()?, None).await?;
//! let address = net::addr(&server);
//! tokio::spawn(net::serve(server, set, store, Config::default(), |report| {
//!     println!("{report:?}")
//! }));
//!
//! // The syncing node.
//! let (store, set) = (DirStore::open("mine")?, ItemSet::new());
//! let client = net::bind("127.0.0.1:0".parse()?, None).await?;
//! let stats = net::sync(&client, address, &set, &store, &Config::default(), &Progress::new()).await?;
//! println!("received {} documents, sent {}", stats.docs_received, stats.docs_sent);
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Endpoints work offline: relays, address lookup, the portmapper and the net report's probes are
//! off, and a peer is dialed at the address given ([`EndpointAddr::new`]`(id).with_ip_addr(..)`).

mod dir;
mod errors;
mod exchange;
mod frame;
mod stats;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use iroh::endpoint::{Incoming, PortmapperConfig, presets};
use iroh::{NetReportConfig, RelayMode};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use dir::DirStore;
pub use iroh::endpoint::Connection;
pub use iroh::{Endpoint, EndpointAddr, EndpointId, SecretKey};
pub use stats::{Phase, Progress, SyncStats};
pub use store::{Document, DocumentStore, PutOutcome, content_id};

use crate::limits::Limits;
use crate::set::ItemSet;

/// The ALPN of this protocol: a peer that does not speak it refuses the connection.
pub const ALPN: &[u8] = b"peat/negsync/1";

/// The version of the framing, announced in the hello.
pub const PROTOCOL_VERSION: u8 = 1;

/// The smallest frame limit (the protocol's smallest Negentropy frame size limit).
pub const MIN_FRAME_LIMIT: u32 = 4096;

/// The largest frame limit either side may announce.
pub const MAX_FRAME_LIMIT: u32 = 16 << 20;

/// How a node syncs: limits and timeouts.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest frame payload this side accepts and sends, [`MIN_FRAME_LIMIT`] to
    /// [`MAX_FRAME_LIMIT`]. The session uses the smaller of the two sides' limits. Default 1 MiB.
    pub frame_limit: u32,
    /// How long connecting (the QUIC and TLS handshake) may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long the peer may stay silent, or take no data, in any one round. Default 30 s.
    pub round_timeout: Duration,
    /// The largest document this side accepts; a larger one is refused. Default 64 MiB.
    pub max_document_size: u64,
    /// What a peer may make a reconciliation session do.
    pub limits: Limits,
    /// [`serve`] only: the most sessions at once; more connections are refused. Default 16.
    pub max_sessions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            frame_limit: 1 << 20,
            connect_timeout: Duration::from_secs(10),
            round_timeout: Duration::from_secs(30),
            max_document_size: 64 << 20,
            limits: Limits::DEFAULT,
            max_sessions: 16,
        }
    }
}

impl Config {
    fn check(&self) -> Result<()> {
        if !(MIN_FRAME_LIMIT..=MAX_FRAME_LIMIT).contains(&self.frame_limit) {
            bail!(
                "frame limit {} is outside {MIN_FRAME_LIMIT}..={MAX_FRAME_LIMIT}",
                self.frame_limit
            );
        }
        if self.max_sessions == 0 {
            bail!("max_sessions must be at least 1");
        }
        Ok(())
    }
}

/// An endpoint bound to `addr` (port 0: any free port) that works without the internet: no
/// relays, no address lookup, no portmapper, no net-report probes. It accepts [`ALPN`].
/// `secret_key` fixes its endpoint ID; `None` makes a new one.
pub async fn bind(addr: SocketAddr, secret_key: Option<SecretKey>) -> Result<Endpoint> {
    let mut builder = Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .clear_address_lookup()
        .portmapper_config(PortmapperConfig::Disabled)
        .net_report_config(NetReportConfig::minimal())
        .clear_ip_transports()
        .bind_addr(addr)
        .with_context(|| format!("binding to {addr}"))?
        .alpns(vec![ALPN.to_vec()]);
    if let Some(key) = secret_key {
        builder = builder.secret_key(key);
    }
    builder
        .bind()
        .await
        .with_context(|| format!("binding to {addr}"))
}

/// The address a peer dials to reach `endpoint`: its ID and the sockets it is bound to.
pub fn addr(endpoint: &Endpoint) -> EndpointAddr {
    endpoint
        .bound_sockets()
        .into_iter()
        .fold(EndpointAddr::new(endpoint.id()), |addr, socket| {
            addr.with_ip_addr(socket)
        })
}

/// Syncs with `peer`: connects, reconciles `set` with the peer's, sends the documents the peer
/// lacks, fetches the ones `set` lacks (stored through `store` and inserted into `set`), and
/// closes the connection. `progress` may be read by another task while this runs.
pub async fn sync(
    endpoint: &Endpoint,
    peer: EndpointAddr,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    progress: &Progress,
) -> Result<SyncStats> {
    config.check()?;
    let start = Instant::now();
    let connection = errors::connect(endpoint, peer, config).await?;
    let result = async {
        let (send, recv) = connection
            .open_bi()
            .await
            .context("opening a stream to the peer")?;
        exchange::initiate(send, recv, set, store, config, progress).await
    }
    .await;
    conclude(&connection, start, result)
}

/// Ends a sync's connection as its outcome says: closed cleanly with the time taken, or with
/// the reason, which the peer shows its user.
fn conclude(
    connection: &Connection,
    start: Instant,
    result: Result<SyncStats>,
) -> Result<SyncStats> {
    match result {
        Ok(mut stats) => {
            connection.close(0u32.into(), b"done");
            stats.elapsed = start.elapsed();
            Ok(stats)
        }
        Err(error) => {
            errors::close_with(connection, &error);
            Err(errors::explain(error))
        }
    }
}

/// Answers one sync that `connection` (accepted with [`ALPN`]) brings: the responder's side of
/// [`sync`]. Returns when the initiator is done: finished, closed its side, or went silent.
/// [`serve`] calls it for every connection; an application with its own accept loop may too.
pub async fn respond(
    connection: Connection,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    progress: &Progress,
) -> Result<SyncStats> {
    config.check()?;
    let start = Instant::now();
    let result = async {
        let (send, recv) =
            match tokio::time::timeout(config.round_timeout, connection.accept_bi()).await {
                Err(_) => bail!(
                    "the initiator opened no stream within {} s",
                    config.round_timeout.as_secs_f64()
                ),
                Ok(streams) => streams.context("accepting the initiator's stream")?,
            };
        exchange::respond(send, recv, set, store, config, progress).await
    }
    .await;
    conclude(&connection, start, result)
}

/// What became of one incoming connection in [`serve`].
#[derive(Debug)]
pub struct SessionReport {
    /// The peer's endpoint ID, when the handshake got that far.
    pub remote: Option<EndpointId>,
    /// The session's statistics, or why it failed.
    pub result: Result<SyncStats>,
}

/// Serves syncs until `endpoint` is closed: every incoming connection runs [`respond`] in its
/// own task (at most [`Config::max_sessions`] at once) over a fresh snapshot of `set`, and
/// `on_session` hears how each one went. Returns once the endpoint is closed and the running
/// sessions have ended.
pub async fn serve<F>(
    endpoint: Endpoint,
    set: Arc<ItemSet>,
    store: Arc<dyn DocumentStore>,
    config: Config,
    on_session: F,
) -> Result<()>
where
    F: Fn(SessionReport) + Send + Sync + 'static,
{
    config.check()?;
    let config = Arc::new(config);
    let on_session = Arc::new(on_session);
    let permits = Arc::new(Semaphore::new(config.max_sessions));
    let mut sessions = JoinSet::new();
    while let Some(incoming) = endpoint.accept().await {
        while sessions.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            incoming.refuse();
            continue;
        };
        let (set, store, config, on_session) = (
            set.clone(),
            store.clone(),
            config.clone(),
            on_session.clone(),
        );
        sessions.spawn(async move {
            let report = accept(incoming, &set, store.as_ref(), &config).await;
            drop(permit);
            on_session(report);
        });
    }
    while sessions.join_next().await.is_some() {}
    Ok(())
}

async fn accept(
    incoming: Incoming,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
) -> SessionReport {
    let handshake = async {
        let accepting = incoming.accept().context("accepting a connection")?;
        accepting.await.context("handshake with an incoming peer")
    };
    let connection = match tokio::time::timeout(config.connect_timeout, handshake).await {
        Err(_) => {
            return SessionReport {
                remote: None,
                result: Err(anyhow::anyhow!(
                    "an incoming peer did not finish its handshake within {} s",
                    config.connect_timeout.as_secs_f64()
                )),
            };
        }
        Ok(Err(error)) => {
            return SessionReport {
                remote: None,
                result: Err(error),
            };
        }
        Ok(Ok(connection)) => connection,
    };
    let remote = connection.remote_id();
    let result = respond(connection, set, store, config, &Progress::new()).await;
    SessionReport {
        remote: Some(remote),
        result,
    }
}
