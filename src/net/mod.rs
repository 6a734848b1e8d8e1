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
//! use negsync::net::{self, Access, Config, DirStore, Permission, Progress};
//!
//! // The syncing node: its key, so that the server can allow it.
//! let client = net::bind("127.0.0.1:0".parse()?, Some(net::SecretKey::generate())).await?;
//!
//! // The serving node, which answers that one peer only (read-write).
//! let store = Arc::new(DirStore::open("served")?);
//! let set = Arc::new(ItemSet::new());
//! let server = net::bind("127.0.0.1:0".parse()?, None).await?;
//! let address = net::addr(&server);
//! let config = Config {
//!     access: Access::closed().allow(client.id(), Permission::ReadWrite),
//!     ..Config::default()
//! };
//! tokio::spawn(net::serve(server, set, store, config, |report| {
//!     println!("{report:?}")
//! }));
//!
//! let (store, set) = (DirStore::open("mine")?, ItemSet::new());
//! let stats = net::sync(&client, address, &set, &store, &Config::default(), &Progress::new()).await?;
//! println!("received {} documents, sent {}", stats.docs_received, stats.docs_sent);
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Endpoints work offline: relays, address lookup, the portmapper and the net report's probes are
//! off, and a peer is dialed at the address given ([`EndpointAddr::new`]`(id).with_ip_addr(..)`).

mod access;
mod dir;
mod errors;
mod exchange;
mod frame;
mod pace;
mod portable;
mod stats;
mod store;
mod text;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use iroh::endpoint::{Incoming, PortmapperConfig, presets};
use iroh::{NetReportConfig, RelayMode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

pub use access::{Access, NotAllowed, Permission};
pub use dir::{DirCounters, DirStore};
pub use errors::Busy;
pub use iroh::endpoint::Connection;
pub use iroh::{Endpoint, EndpointAddr, EndpointId, SecretKey};
pub use stats::{Phase, Progress, SyncStats};
pub use store::{Document, DocumentStore, Outgoing, PutOutcome, Receive, Receiving, content_id};
pub use text::{escape, escape_bytes};

use pace::{Live, Pace};

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

/// How a node syncs: who may, limits, timeouts and quotas. Every quantity a peer announces is
/// checked against these before it costs memory or disk.
#[derive(Clone, Debug)]
pub struct Config {
    /// [`serve`] and [`respond`]: who may sync, and whether read-only. Default: nobody
    /// ([`Access::closed`]). [`sync`] takes documents from the peer it dials unless this names
    /// that peer [`Permission::Read`].
    pub access: Access,
    /// The largest frame payload this side accepts and sends, [`MIN_FRAME_LIMIT`] to
    /// [`MAX_FRAME_LIMIT`]. The session uses the smaller of the two sides' limits. Default 1 MiB.
    pub frame_limit: u32,
    /// How long connecting (the QUIC and TLS handshake) may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long the peer may stay silent, or take no data, in any one round. Default 30 s.
    pub round_timeout: Duration,
    /// The longest a whole session may take, from the handshake to the end. Default 10 minutes.
    pub session_deadline: Duration,
    /// The least traffic (bytes per second, both ways, over the session so far) a session must
    /// keep up once [`rate_grace`](Self::rate_grace) is over; 0: no minimum. Default 16 KiB/s.
    pub min_rate: u64,
    /// How long a session may run before [`min_rate`](Self::min_rate) applies. Default 10 s.
    pub rate_grace: Duration,
    /// The largest document this side accepts; it is announced to the peer, which never sends
    /// a larger one. Default 64 MiB.
    pub max_document_size: u64,
    /// The most documents this side takes in one sync; more ends the sync (what arrived stays,
    /// the rest waits for the next sync). Default 100,000.
    pub max_docs_per_sync: u64,
    /// The most document bytes this side takes in one sync. Default 1 GiB.
    pub max_bytes_per_sync: u64,
    /// How far in the future a document's timestamp may be, and how far the peer's clock may be
    /// off ours; a document beyond it, or from a peer whose clock is beyond it, is refused.
    /// Default one day.
    pub max_clock_skew: Duration,
    /// What a peer may make a reconciliation session do.
    pub limits: Limits,
    /// [`serve`] only: the most sessions at once. Default 16.
    pub max_sessions: usize,
    /// [`serve`] only: when every session slot is taken, a waiting peer gets the slot of the
    /// session that has gone longest without a whole frame either way, if that is at least
    /// this long (a peer trickling a frame, or saying nothing); the dropped peer is told to
    /// retry later. Default 2 s.
    pub fair_after: Duration,
    /// [`serve`] only: what a peer that finds no free slot is told to wait. Default 1 s.
    pub retry_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access: Access::closed(),
            frame_limit: 1 << 20,
            connect_timeout: Duration::from_secs(10),
            round_timeout: Duration::from_secs(30),
            session_deadline: Duration::from_secs(600),
            min_rate: 16 << 10,
            rate_grace: Duration::from_secs(10),
            max_document_size: 64 << 20,
            max_docs_per_sync: 100_000,
            max_bytes_per_sync: 1 << 30,
            max_clock_skew: Duration::from_secs(24 * 60 * 60),
            limits: Limits::DEFAULT,
            max_sessions: 16,
            fair_after: Duration::from_secs(2),
            retry_after: Duration::from_secs(1),
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
        if self.session_deadline.is_zero() || self.round_timeout.is_zero() {
            bail!("the session deadline and the round timeout must be above 0");
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
/// closes the connection. `progress` may be read by another task while this runs. A peer that
/// has no session for us now fails it with a [`Busy`] error (in the chain) that says when to
/// try again.
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
    let permission = match config.access.permission(&peer.id) {
        Some(Permission::Read) => Permission::Read,
        _ => Permission::ReadWrite,
    };
    let connection = errors::connect(endpoint, peer, config).await?;
    let pace = Pace::new(config, Live::new());
    let result = within_deadline(config, async {
        let (send, recv) = connection
            .open_bi()
            .await
            .context("opening a stream to the peer")?;
        exchange::initiate(
            (send, recv),
            set,
            store,
            config,
            permission,
            &pace,
            progress,
        )
        .await
    })
    .await;
    let result = match result {
        Err(error) => Err(errors::with_peer_reason(&connection, error).await),
        ok => ok,
    };
    conclude(&connection, start, result)
}

/// `exchange`, failed when it outlasts the session deadline.
async fn within_deadline<T>(
    config: &Config,
    exchange: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(config.session_deadline, exchange).await {
        Ok(result) => result,
        Err(_) => Err(anyhow!(
            "the session passed its deadline of {} s",
            config.session_deadline.as_secs_f64()
        )),
    }
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
/// A peer that [`Config::access`] does not allow is refused ([`NotAllowed`]). [`serve`] calls
/// it for every connection; an application with its own accept loop may too.
pub async fn respond(
    connection: Connection,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    progress: &Progress,
) -> Result<SyncStats> {
    config.check()?;
    let remote = connection.remote_id();
    let Some(permission) = config.access.permission(&remote) else {
        return Err(refuse(&connection, remote));
    };
    respond_as(
        connection,
        set,
        store,
        config,
        permission,
        Live::new(),
        progress,
    )
    .await
}

/// Closes `connection` of a peer that is not allowed, and returns the error to report.
fn refuse(connection: &Connection, remote: EndpointId) -> anyhow::Error {
    errors::close_not_allowed(
        connection,
        &format!(
            "endpoint {remote} is not on this server's allow-list; ask its operator to allow it"
        ),
    );
    NotAllowed(remote).into()
}

async fn respond_as(
    connection: Connection,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    permission: Permission,
    live: Arc<Live>,
    progress: &Progress,
) -> Result<SyncStats> {
    let start = Instant::now();
    let pace = Pace::new(config, live.clone());
    let exchange = within_deadline(config, async {
        let (send, recv) = match tokio::time::timeout(pace.wait(), connection.accept_bi()).await {
            Err(_) => bail!(
                "the initiator opened no stream within {} s",
                pace.wait().as_secs_f64()
            ),
            Ok(streams) => streams.context("accepting the initiator's stream")?,
        };
        exchange::respond(
            (send, recv),
            set,
            store,
            config,
            permission,
            &pace,
            progress,
        )
        .await
    });
    tokio::select! {
        result = exchange => conclude(&connection, start, result),
        () = live.kill.notified() => {
            let why = format!(
                "dropped: another peer waited for a session slot, and this one had moved no \
                 whole frame for over {} s",
                config.fair_after.as_secs_f64()
            );
            errors::close_busy(&connection, config.retry_after, &why);
            Err(anyhow::Error::new(Busy {
                retry_after: config.retry_after,
                reason: why,
            }))
        }
    }
}

/// What became of one incoming connection in [`serve`].
#[derive(Debug)]
pub struct SessionReport {
    /// The peer's endpoint ID, when the handshake got that far.
    pub remote: Option<EndpointId>,
    /// The session's statistics, or why it failed. A peer refused because it is not allowed
    /// has [`NotAllowed`] in the error's chain; one told to come back later, [`Busy`].
    pub result: Result<SyncStats>,
}

/// The sessions a [`serve`] runs, by peer.
#[derive(Default)]
struct Slots {
    live: HashMap<EndpointId, Arc<Live>>,
}

/// Serves syncs until `endpoint` is closed. Every incoming connection is handshaken in its own
/// task (at most 4 x [`Config::max_sessions`] handshakes at once; more are refused at once),
/// then: a peer [`Config::access`] does not allow is refused; a peer that has a session
/// running already is told to retry later; otherwise it waits briefly for one of the
/// [`Config::max_sessions`] slots, taking the slot of a session that moves too little (see
/// [`Config::fair_after`]) if there is one, or is told to retry after [`Config::retry_after`].
/// Each session runs [`respond`] over a fresh snapshot of `set`, and `on_session` hears how it
/// went. Returns once the endpoint is closed and the running sessions have ended.
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
    let server = Arc::new(Server {
        set,
        store,
        permits: Arc::new(Semaphore::new(config.max_sessions)),
        slots: Mutex::new(Slots::default()),
        config,
    });
    let on_session = Arc::new(on_session);
    let handshakes = Arc::new(Semaphore::new(server.config.max_sessions.saturating_mul(4)));
    let mut sessions = JoinSet::new();
    while let Some(incoming) = endpoint.accept().await {
        while sessions.try_join_next().is_some() {}
        let Ok(handshake) = handshakes.clone().try_acquire_owned() else {
            incoming.refuse();
            continue;
        };
        let (server, on_session) = (server.clone(), on_session.clone());
        sessions.spawn(async move {
            let report = server.admit(incoming, handshake).await;
            on_session(report);
        });
    }
    while sessions.join_next().await.is_some() {}
    Ok(())
}

struct Server {
    set: Arc<ItemSet>,
    store: Arc<dyn DocumentStore>,
    config: Config,
    permits: Arc<Semaphore>,
    slots: Mutex<Slots>,
}

impl Server {
    async fn admit(&self, incoming: Incoming, handshake: OwnedSemaphorePermit) -> SessionReport {
        let config = &self.config;
        let shaking = async {
            let accepting = incoming.accept().context("accepting a connection")?;
            accepting.await.context("handshake with an incoming peer")
        };
        let connection = match tokio::time::timeout(config.connect_timeout, shaking).await {
            Err(_) => {
                return SessionReport {
                    remote: None,
                    result: Err(anyhow!(
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
        drop(handshake);
        let remote = connection.remote_id();
        let report = |result| SessionReport {
            remote: Some(remote),
            result,
        };
        let Some(permission) = config.access.permission(&remote) else {
            return report(Err(refuse(&connection, remote)));
        };
        if self.lock().live.contains_key(&remote) {
            let why = "this endpoint has a session running here already";
            errors::close_busy(&connection, config.retry_after, why);
            return report(Err(anyhow!("refused {remote}: {why}")));
        }
        let Some(permit) = self.slot().await else {
            let why = format!("all {} session slots are taken", config.max_sessions);
            errors::close_busy(&connection, config.retry_after, &why);
            return report(Err(anyhow::Error::new(Busy {
                retry_after: config.retry_after,
                reason: why,
            })
            .context(format!("told {remote} to retry later"))));
        };
        let live = Live::new();
        {
            let mut slots = self.lock();
            if slots.live.contains_key(&remote) {
                drop(slots);
                let why = "this endpoint has a session running here already";
                errors::close_busy(&connection, config.retry_after, why);
                return report(Err(anyhow!("refused {remote}: {why}")));
            }
            slots.live.insert(remote, live.clone());
        }
        let result = respond_as(
            connection,
            &self.set,
            self.store.as_ref(),
            config,
            permission,
            live,
            &Progress::new(),
        )
        .await;
        self.lock().live.remove(&remote);
        drop(permit);
        report(result)
    }

    /// A session slot: a free one, or, when there is none, the slot of the session idle longest
    /// (it is asked to end), or `None` when no slot frees up soon.
    async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        let config = &self.config;
        let victim = self
            .lock()
            .live
            .values()
            .filter(|live| !live.is_evicted())
            .map(|live| (live.idle(), live))
            .filter(|(idle, _)| *idle >= config.fair_after)
            .max_by_key(|(idle, _)| *idle)
            .map(|(_, live)| live.clone());
        if let Some(victim) = victim {
            victim.evict();
        }
        let wait = config.retry_after.min(Duration::from_secs(2));
        tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}
