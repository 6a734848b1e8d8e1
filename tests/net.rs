//! The iroh transport, two endpoints in one process on 127.0.0.1 with relays and discovery off.
//! Runs with `--features iroh` (`make net-tests`).
#![cfg(feature = "iroh")]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use negsync::net::{
    self, Access, Config, Document, DocumentStore, EndpointAddr, Progress, PutOutcome,
    SessionReport, SyncStats, content_id,
};
use negsync::{Id, Item, ItemSet, Session};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Every test finishes well within this, or fails.
const LIMIT: Duration = Duration::from_secs(60);

/// A document store in memory. `lie_about` makes `get` return other bytes than the ID was made
/// from, as a broken or hostile peer would.
#[derive(Default)]
struct MemStore {
    docs: Mutex<BTreeMap<Id, Document>>,
    lie_about: Mutex<HashSet<Id>>,
}

impl MemStore {
    fn ids(&self) -> HashSet<Id> {
        self.docs.lock().unwrap().keys().copied().collect()
    }

    fn holds(&self, id: &Id) -> bool {
        self.docs.lock().unwrap().contains_key(id)
    }
}

impl DocumentStore for MemStore {
    fn get(&self, id: &Id) -> Result<Option<Document>> {
        let mut document = self.docs.lock().unwrap().get(id).cloned();
        if let Some(document) = &mut document {
            if self.lie_about.lock().unwrap().contains(id) {
                document.contents.push(b'!');
            }
        }
        Ok(document)
    }

    fn put(&self, id: &Id, document: Document) -> Result<PutOutcome> {
        let mut docs = self.docs.lock().unwrap();
        if docs.contains_key(id) {
            return Ok(PutOutcome::Kept);
        }
        docs.insert(*id, document);
        Ok(PutOutcome::Stored { replaced: None })
    }
}

/// A small deterministic random generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Document number `n`: its key, a timestamp, and `size` bytes.
fn document(n: u64, size: usize) -> Document {
    let contents = (0..size).map(|i| (n as usize * 31 + i) as u8).collect();
    Document {
        key: format!("doc/{n}").into_bytes(),
        timestamp: 1_700_000_000 + n * 7,
        contents,
    }
}

struct Node {
    endpoint: net::Endpoint,
    set: Arc<ItemSet>,
    store: Arc<MemStore>,
}

impl Node {
    async fn new(documents: impl IntoIterator<Item = Document>) -> Node {
        let endpoint = net::bind("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let (set, store) = (Arc::new(ItemSet::new()), Arc::new(MemStore::default()));
        for document in documents {
            let id = content_id(&document.key, &document.contents);
            set.insert(document.timestamp, id).unwrap();
            store.docs.lock().unwrap().insert(id, document);
        }
        Node {
            endpoint,
            set,
            store,
        }
    }

    fn items(&self) -> Vec<Item> {
        self.set.snapshot().items().to_vec()
    }

    /// Serves syncs in the background; each session's report comes out of the receiver. A
    /// config that allows nobody (the default) is opened to anyone: these tests are about the
    /// exchange (tests/hostile.rs tests who may sync).
    fn serve(&self, mut config: Config) -> mpsc::UnboundedReceiver<SessionReport> {
        if config.access == Access::closed() {
            config.access = Access::open();
        }
        let (reports, received) = mpsc::unbounded_channel();
        tokio::spawn(net::serve(
            self.endpoint.clone(),
            self.set.clone(),
            self.store.clone(),
            config,
            move |report| {
                let _ = reports.send(report);
            },
        ));
        received
    }

    async fn sync_with(&self, peer: &Node, config: &Config) -> Result<SyncStats> {
        net::sync(
            &self.endpoint,
            net::addr(&peer.endpoint),
            &self.set,
            self.store.as_ref(),
            config,
            &Progress::new(),
        )
        .await
    }
}

/// `initiator` syncs with `responder` (serving with `responder_config`); returns both sides'
/// statistics.
async fn sync_pair(
    initiator: &Node,
    responder: &Node,
    initiator_config: &Config,
    responder_config: Config,
) -> (SyncStats, SyncStats) {
    let mut reports = responder.serve(responder_config);
    let ours = initiator
        .sync_with(responder, initiator_config)
        .await
        .expect("sync");
    let theirs = timeout(LIMIT, reports.recv())
        .await
        .expect("the responder reports")
        .expect("a report");
    assert_eq!(theirs.remote, Some(initiator.endpoint.id()));
    (ours, theirs.result.expect("the responder's session"))
}

fn assert_union(a: &Node, b: &Node, expected: &HashSet<Id>) {
    assert_eq!(&a.store.ids(), expected);
    assert_eq!(&b.store.ids(), expected);
    assert_eq!(a.items(), b.items(), "both sets hold the same items");
    let in_set: HashSet<Id> = a.items().iter().map(|item| item.id).collect();
    assert_eq!(&in_set, expected);
}

fn ids(documents: &[Document]) -> HashSet<Id> {
    documents
        .iter()
        .map(|d| content_id(&d.key, &d.contents))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_document_sets_end_with_the_union() {
    for seed in [1u64, 2, 3] {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for n in 0..600 {
            let size = rng.below(3000) as usize;
            match rng.below(4) {
                0 => ours.push(document(n, size)),
                1 => theirs.push(document(n, size)),
                2 => {
                    ours.push(document(n, size));
                    theirs.push(document(n, size));
                }
                _ => {}
            }
        }
        let only_ours = ids(&ours).difference(&ids(&theirs)).count() as u64;
        let only_theirs = ids(&theirs).difference(&ids(&ours)).count() as u64;
        let union: HashSet<Id> = ids(&ours).union(&ids(&theirs)).copied().collect();
        let (a, b) = (Node::new(ours).await, Node::new(theirs).await);

        let (stats, peer) = sync_pair(&a, &b, &Config::default(), Config::default()).await;
        assert_union(&a, &b, &union);
        assert_eq!(
            (stats.docs_sent, stats.docs_received),
            (only_ours, only_theirs)
        );
        assert_eq!(
            (peer.docs_received, peer.docs_sent),
            (only_ours, only_theirs)
        );
        assert_eq!((stats.refused, peer.refused), (0, 0));
        assert_eq!(stats.peer_stored, Some(only_ours));
        assert!(stats.rounds >= 1);
        a.endpoint.close().await;
        b.endpoint.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_side_empty() {
    let documents: Vec<Document> = (0..200).map(|n| document(n, 100)).collect();
    let all = ids(&documents);
    // The initiator is empty, then the responder is.
    for initiator_empty in [true, false] {
        let (a, b) = if initiator_empty {
            (Node::new([]).await, Node::new(documents.clone()).await)
        } else {
            (Node::new(documents.clone()).await, Node::new([]).await)
        };
        let (stats, _) = sync_pair(&a, &b, &Config::default(), Config::default()).await;
        assert_union(&a, &b, &all);
        let moved = if initiator_empty {
            stats.docs_received
        } else {
            stats.docs_sent
        };
        assert_eq!(moved, 200);
        assert_eq!(stats.docs_sent + stats.docs_received, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_sides_send_no_document() {
    let documents: Vec<Document> = (0..500).map(|n| document(n, 50)).collect();
    let (a, b) = (
        Node::new(documents.clone()).await,
        Node::new(documents.clone()).await,
    );
    let (stats, peer) = sync_pair(&a, &b, &Config::default(), Config::default()).await;
    assert!(stats.nothing_transferred(), "{stats:?}");
    assert!(peer.nothing_transferred(), "{peer:?}");
    assert_eq!(stats.rounds, 1, "one round trip finds identical sets equal");
    assert_union(&a, &b, &ids(&documents));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_limit_of_4096() {
    // Enough items that reconciliation needs many frames, and documents larger than a frame.
    let mut rng = Rng(42);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for n in 0..4000 {
        let size = if n % 50 == 0 { 20_000 } else { 40 };
        match rng.below(10) {
            0 => ours.push(document(n, size)),
            1 => theirs.push(document(n, size)),
            _ => {
                ours.push(document(n, size));
                theirs.push(document(n, size));
            }
        }
    }
    let union: HashSet<Id> = ids(&ours).union(&ids(&theirs)).copied().collect();
    let (a, b) = (Node::new(ours).await, Node::new(theirs).await);
    let small = Config {
        frame_limit: 4096,
        ..Config::default()
    };
    // Only the initiator asks for 4096: the smaller limit holds for both.
    let (stats, peer) = sync_pair(&a, &b, &small, Config::default()).await;
    assert_eq!((stats.frame_limit, peer.frame_limit), (4096, 4096));
    assert!(
        stats.rounds > 3,
        "a 4096-byte limit takes several rounds: {stats:?}"
    );
    assert!(stats.bytes_sent > 4096 && stats.bytes_received > 4096);
    assert_union(&a, &b, &union);

    // And the responder alone asking for it works the same way.
    let (c, d) = (Node::new([]).await, Node::new([]).await);
    let (stats, _) = sync_pair(&c, &d, &Config::default(), small).await;
    assert_eq!(stats.frame_limit, 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_does_not_match_its_id_is_refused_and_not_stored() {
    let ours: Vec<Document> = (0..20).map(|n| document(n, 64)).collect();
    let theirs: Vec<Document> = (100..120).map(|n| document(n, 64)).collect();
    let bad_from_them = content_id(&theirs[3].key, &theirs[3].contents);
    let bad_from_us = content_id(&ours[5].key, &ours[5].contents);
    let (a, b) = (Node::new(ours).await, Node::new(theirs).await);
    b.store.lie_about.lock().unwrap().insert(bad_from_them);
    a.store.lie_about.lock().unwrap().insert(bad_from_us);

    let (stats, peer) = sync_pair(&a, &b, &Config::default(), Config::default()).await;
    // Each side refused the one document whose bytes were wrong, and took the rest.
    assert_eq!((stats.refused, peer.refused), (1, 1));
    assert_eq!(stats.peer_refused, Some(1));
    assert!(!a.store.holds(&bad_from_them));
    assert!(!b.store.holds(&bad_from_us));
    assert!(
        !a.set
            .snapshot()
            .items()
            .iter()
            .any(|i| i.id == bad_from_them)
    );
    assert!(!b.set.snapshot().items().iter().any(|i| i.id == bad_from_us));
    assert_eq!((a.store.ids().len(), b.store.ids().len()), (39, 39));
    assert!(
        stats.problems[0].contains("do not match its ID"),
        "{:?}",
        stats.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_right_after_the_first_transfers_nothing() {
    let ours: Vec<Document> = (0..300).map(|n| document(n, 200)).collect();
    let theirs: Vec<Document> = (150..450).map(|n| document(n, 200)).collect();
    let (a, b) = (Node::new(ours).await, Node::new(theirs).await);
    let mut reports = b.serve(Config::default());

    let first = a.sync_with(&b, &Config::default()).await.unwrap();
    assert_eq!((first.docs_sent, first.docs_received), (150, 150));
    let second = a.sync_with(&b, &Config::default()).await.unwrap();
    assert!(second.nothing_transferred(), "{second:?}");
    assert_eq!(second.rounds, 1);
    for _ in 0..2 {
        let report = timeout(LIMIT, reports.recv()).await.unwrap().unwrap();
        report.result.unwrap();
    }
    // The responder's side too: syncing the other way round finds nothing either.
    let mut reports = a.serve(Config::default());
    let third = b.sync_with(&a, &Config::default()).await.unwrap();
    assert!(third.nothing_transferred(), "{third:?}");
    timeout(LIMIT, reports.recv())
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors_for_a_wrong_id_another_protocol_and_no_peer() {
    let (a, b) = (Node::new([]).await, Node::new([]).await);
    let _reports = b.serve(Config::default());
    let quick = Config {
        connect_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    let sync = |peer: EndpointAddr| {
        let (a, quick) = (&a, &quick);
        async move {
            let error = net::sync(
                &a.endpoint,
                peer,
                &a.set,
                a.store.as_ref(),
                quick,
                &Progress::new(),
            )
            .await
            .unwrap_err();
            format!("{error:#}")
        }
    };
    let socket = *net::addr(&b.endpoint).ip_addrs().next().unwrap();

    // Right address, wrong endpoint ID.
    let stranger = net::SecretKey::generate().public();
    let message = sync(EndpointAddr::new(stranger).with_ip_addr(socket)).await;
    assert!(message.contains("is not endpoint"), "{message}");
    assert!(message.contains("wrong endpoint ID"), "{message}");

    // A peer that speaks another protocol.
    let other = iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .relay_mode(iroh::RelayMode::Disabled)
        .clear_address_lookup()
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")
        .unwrap()
        .alpns(vec![b"something/else/1".to_vec()])
        .bind()
        .await
        .unwrap();
    let accepting = other.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accepting.accept().await {
            let _ = incoming.await;
        }
    });
    let message = sync(net::addr(&other)).await;
    assert!(message.contains("does not speak negsync"), "{message}");

    // Nobody there: a port nothing listens on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let nobody = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    let message = sync(EndpointAddr::new(b.endpoint.id()).with_ip_addr(nobody)).await;
    assert!(message.contains("cannot reach peer"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10));
    other.close().await;
}

/// A hand-driven initiator, to make the responder face what `net::sync` never does.
struct RawInitiator {
    connection: net::Connection,
    send: iroh::endpoint::SendStream,
    recv: iroh::endpoint::RecvStream,
}

impl RawInitiator {
    async fn connect(from: &Node, to: &Node) -> RawInitiator {
        let connection = from
            .endpoint
            .connect(net::addr(&to.endpoint), net::ALPN)
            .await
            .unwrap();
        let (send, recv) = connection.open_bi().await.unwrap();
        RawInitiator {
            connection,
            send,
            recv,
        }
    }

    async fn write(&mut self, kind: u8, payload: &[u8]) {
        let mut frame = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        frame.push(kind);
        frame.extend_from_slice(payload);
        self.send.write_all(&frame).await.unwrap();
    }

    async fn read(&mut self) -> (u8, Vec<u8>) {
        let mut prefix = [0u8; 4];
        self.recv.read_exact(&mut prefix).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        self.recv.read_exact(&mut body).await.unwrap();
        (body[0], body[1..].to_vec())
    }

    async fn hello(&mut self, frame_limit: u32) {
        let mut hello = vec![net::PROTOCOL_VERSION];
        hello.extend_from_slice(&frame_limit.to_be_bytes());
        self.write(1, &hello).await;
        assert_eq!(self.read().await.0, 1, "the responder's hello");
    }
}

/// Sets that differ so much that with a 4096-byte limit the responder's first reply still
/// holds fingerprint ranges (so its session is not complete after it).
async fn differing_pair() -> (Node, Node) {
    let ours: Vec<Document> = (0..3000).map(|n| document(n, 8)).collect();
    let theirs: Vec<Document> = (0..3000).map(|n| document(n + 5000, 8)).collect();
    (Node::new(ours).await, Node::new(theirs).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responder_ends_when_the_initiator_closes_without_finishing() {
    let (a, b) = differing_pair().await;
    let config = Config {
        frame_limit: 4096,
        ..Config::default()
    };
    let mut reports = b.serve(config);
    let mut raw = RawInitiator::connect(&a, &b).await;
    raw.hello(4096).await;
    let mut session = Session::new(a.set.snapshot(), 4096).unwrap();
    raw.write(2, &session.initiate().unwrap()).await;
    let (kind, reply) = raw.read().await;
    assert_eq!(kind, 2);
    let step = session.reconcile(&reply).unwrap();
    assert!(!step.complete, "the exchange is not over yet");
    // The initiator finishes its side of the stream in the middle of the exchange.
    raw.send.finish().unwrap();
    let report = timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the responder ends its session at once")
        .unwrap();
    let stats = report.result.expect("a clean end");
    assert_eq!(stats.rounds, 1);
    assert!(stats.nothing_transferred());
    raw.connection.close(0u32.into(), b"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responder_ends_when_the_initiator_goes_silent() {
    let (a, b) = differing_pair().await;
    let config = Config {
        frame_limit: 4096,
        round_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let mut reports = b.serve(config);
    let mut raw = RawInitiator::connect(&a, &b).await;
    raw.hello(4096).await;
    let mut session = Session::new(a.set.snapshot(), 4096).unwrap();
    raw.write(2, &session.initiate().unwrap()).await;
    assert_eq!(raw.read().await.0, 2);
    // ... and then says nothing more, with the stream still open.
    let report = timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the responder ends its session after its round timeout")
        .unwrap();
    let message = format!("{:#}", report.result.unwrap_err());
    assert!(message.contains("went silent"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_negotiated_limit_is_an_error() {
    let (a, b) = (Node::new([]).await, Node::new([]).await);
    let mut reports = b.serve(Config {
        frame_limit: 4096,
        ..Config::default()
    });
    let mut raw = RawInitiator::connect(&a, &b).await;
    raw.hello(1 << 20).await;
    raw.write(2, &vec![0x61; 4097]).await;
    let report = timeout(LIMIT, reports.recv()).await.unwrap().unwrap();
    let message = format!("{:#}", report.result.unwrap_err());
    assert!(
        message.contains("over the negotiated limit of 4096"),
        "{message}"
    );
    // The responder told the initiator why it closed the connection.
    let closed = format!("{}", raw.connection.closed().await);
    assert!(closed.contains("over the negotiated limit"), "{closed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dir_store_refuses_paths_that_leave_its_directory() {
    let base = std::env::temp_dir().join(format!("negsync-net-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let served = base.join("served");
    std::fs::create_dir_all(&served).unwrap();

    let doc = |key: &str| Document {
        key: key.as_bytes().to_vec(),
        timestamp: 1_700_000_000,
        contents: b"payload".to_vec(),
    };
    // Each has a valid ID for its key: only the path itself is wrong.
    let a = Node::new([
        doc("../escaped.txt"),
        doc("/tmp/absolute.txt"),
        doc("sub/../../escaped2.txt"),
        doc("sub/fine.txt"),
    ])
    .await;
    let (store, set) = (
        Arc::new(net::DirStore::open(&served).unwrap()),
        Arc::new(ItemSet::new()),
    );
    store.scan(&set).unwrap();
    let endpoint = net::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let peer = net::addr(&endpoint);
    tokio::spawn(net::serve(
        endpoint,
        set.clone(),
        store.clone(),
        Config {
            access: Access::open(),
            ..Config::default()
        },
        |_| {},
    ));

    let stats = net::sync(
        &a.endpoint,
        peer,
        &a.set,
        a.store.as_ref(),
        &Config::default(),
        &Progress::new(),
    )
    .await
    .unwrap();
    assert_eq!(stats.docs_sent, 4);
    assert_eq!(stats.peer_refused, Some(3));
    assert_eq!(stats.peer_stored, Some(1));
    assert_eq!(
        std::fs::read(served.join("sub/fine.txt")).unwrap(),
        b"payload"
    );
    assert!(!base.join("escaped.txt").exists());
    assert!(!base.join("escaped2.txt").exists());
    assert_eq!(set.len(), 1);
    std::fs::remove_dir_all(&base).unwrap();
}
