//! One session on one bidirectional stream: hello, reconciliation, document transfer.
//!
//! ```text
//! initiator                                   responder
//!   Hello {version, frame limit, ...}     ->
//!                                         <-  Hello {version, frame limit, ...}
//!   Reconcile (first message)             ->
//!                                         <-  Reconcile (reply)          ... every round
//!   ReconcileDone {to send, to ask}       ->
//!   Want [ids]..., Doc+Data..., End       ->  (both directions at once)
//!                                         <-  Doc+Data, Missing or TooLarge for each wanted ID
//!                                         <-  Finished {stored, refused}
//!   closes the connection
//! ```
//!
//! The responder ends its session when the initiator says `ReconcileDone`, when it finishes its
//! side of the stream, or when it goes silent for a round timeout, whether or not the responder's
//! own session reported `complete` (the initiator may finish after a frame-cut reply).

use std::collections::HashSet;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use iroh::endpoint::{RecvStream, SendStream};
use tokio::sync::mpsc;

use super::access::Permission;
use super::frame::{self, Fields, HELLO_LIMIT, Kind};
use super::pace::Pace;
use super::stats::{Phase, Progress, SyncStats};
use super::store::{Document, DocumentStore, Outgoing, PutOutcome, Receive, Receiving};
use super::text::escape_bytes;
use super::{Config, MAX_FRAME_LIMIT, MIN_FRAME_LIMIT, PROTOCOL_VERSION};
use crate::id::{ID_SIZE, Id, Item, id_for_version};
use crate::session::Session;
use crate::set::ItemSet;
use sha2::{Digest, Sha256};

/// Bytes of a `Doc` frame before the key: ID, timestamp, size.
const DOC_HEADER: usize = ID_SIZE + 8 + 8;

/// Hello flag: the sender takes documents from its peer.
const TAKES_DOCUMENTS: u8 = 1;

/// The initiator's side, on a freshly opened stream. `permission` is what the initiator lets
/// the responder do (`Read`: it asks for no document).
pub(crate) async fn initiate(
    (mut send, mut recv): (SendStream, RecvStream),
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    permission: Permission,
    pace: &Pace,
    progress: &Progress,
) -> Result<SyncStats> {
    let we_take = permission == Permission::ReadWrite;
    let hello_out = hello(config, we_take);
    frame::write(&mut send, Kind::Hello, &hello_out, HELLO_LIMIT, pace).await?;
    let theirs = frame::read_some(&mut recv, HELLO_LIMIT, pace, "the peer's hello")
        .await?
        .expect(Kind::Hello, "a hello")?;
    let peer = PeerHello::parse(config, &theirs)?;
    let limit = peer.limit;

    blocking(|| store.refresh(set)).context("refreshing the store")?;
    let mut session = Session::with_limits(set.snapshot(), limit.into(), config.limits)?;
    progress.set_phase(Phase::Reconciling);
    let mut message = session.initiate()?;
    loop {
        frame::write(&mut send, Kind::Reconcile, &message, limit, pace).await?;
        let reply = frame::read_some(&mut recv, limit, pace, "a reconciliation reply")
            .await?
            .expect(Kind::Reconcile, "a reconciliation reply")?;
        let step = session
            .reconcile(&reply)
            .context("reconciling with the peer's reply")?;
        progress.set_rounds(session.rounds());
        match step.reply {
            Some(next) => message = next,
            None => break,
        }
    }
    // A peer that takes nothing from us gets nothing; one we take nothing from is asked nothing.
    let have = if peer.takes_documents {
        session.have_ids()?.to_vec()
    } else {
        Vec::new()
    };
    let need = if we_take {
        session.need_ids()?.to_vec()
    } else {
        Vec::new()
    };
    progress.set_totals(have.len() as u64, need.len() as u64);
    let mut done = Vec::with_capacity(16);
    done.extend_from_slice(&(have.len() as u64).to_be_bytes());
    done.extend_from_slice(&(need.len() as u64).to_be_bytes());
    frame::write(&mut send, Kind::ReconcileDone, &done, limit, pace).await?;

    progress.set_phase(Phase::Transferring);
    let link = Link {
        limit,
        pace,
        config,
        peer,
        we_take,
    };
    let sending = async {
        let mut buffer = Vec::new();
        for chunk in need.chunks(limit as usize / ID_SIZE) {
            let ids: Vec<u8> = chunk.iter().flat_map(|id| id.0).collect();
            frame::write(&mut send, Kind::Want, &ids, limit, pace).await?;
        }
        for id in &have {
            // A document that changed since the snapshot is no longer ours to offer.
            let document = blocking(|| store.open(id)).context("reading a document to send")?;
            if let Some(document) = document {
                if let Err(why) = link.sendable(&document) {
                    progress.refuse(format!("{id}: not sent: {why}"));
                    continue;
                }
                link.send_document(&mut send, id, document, &mut buffer, progress)
                    .await?;
            }
        }
        frame::write(&mut send, Kind::End, &[], limit, pace).await?;
        send.finish().context("finishing our side of the stream")?;
        Ok::<_, anyhow::Error>(())
    };
    let receiving = async {
        let mut wanted: HashSet<Id> = need.iter().copied().collect();
        let mut quota = Quota::default();
        loop {
            let frame = frame::read_some(&mut recv, limit, pace, "the peer's documents").await?;
            match frame.kind {
                Kind::Doc => {
                    link.receive_document(
                        &mut recv,
                        &frame.payload,
                        set,
                        store,
                        progress,
                        &mut quota,
                        |id| {
                            wanted.remove(id).then_some(()).ok_or_else(|| {
                                anyhow!(
                                    "protocol error: the peer sent a document we did not ask for"
                                )
                            })
                        },
                    )
                    .await?
                }
                Kind::Missing => {
                    let mut fields = Fields::new(&frame.payload, "Missing");
                    let id = fields.id()?;
                    fields.end()?;
                    if !wanted.remove(&id) {
                        bail!(
                            "protocol error: the peer reported missing a document we never asked for"
                        );
                    }
                    progress.miss();
                }
                Kind::TooLarge => {
                    let mut fields = Fields::new(&frame.payload, "TooLarge");
                    let (id, size) = (fields.id()?, fields.u64()?);
                    fields.end()?;
                    if !wanted.remove(&id) {
                        bail!(
                            "protocol error: the peer reported too large a document we never asked for"
                        );
                    }
                    progress.refuse(format!(
                        "{id}: not sent by the peer: {size} bytes, over our limit of {}",
                        config.max_document_size
                    ));
                }
                Kind::Finished => {
                    let mut fields = Fields::new(&frame.payload, "Finished");
                    let (stored, refused) = (fields.u64()?, fields.u64()?);
                    fields.end()?;
                    if !wanted.is_empty() {
                        bail!(
                            "protocol error: the peer finished with {} of our requests unanswered",
                            wanted.len()
                        );
                    }
                    return Ok((stored, refused));
                }
                _ => return Err(frame.unexpected("a document or the end")),
            }
        }
    };
    // What arrived is flushed to disk whether or not the session went well.
    let joined = tokio::try_join!(sending, receiving);
    let flushed = blocking(|| store.flush());
    let ((), (peer_stored, peer_refused)) = joined?;
    flushed.context("flushing the received documents to disk")?;
    progress.set_phase(Phase::Done);

    let mut stats = progress.stats();
    stats.frame_limit = limit;
    stats.reconcile_bytes_sent = session.bytes_out();
    stats.reconcile_bytes_received = session.bytes_in();
    stats.peer_stored = Some(peer_stored);
    stats.peer_refused = Some(peer_refused);
    Ok(stats)
}

/// The responder's side, on a stream the initiator opened, for a peer with `permission`.
pub(crate) async fn respond(
    (mut send, mut recv): (SendStream, RecvStream),
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    permission: Permission,
    pace: &Pace,
    progress: &Progress,
) -> Result<SyncStats> {
    let theirs = frame::read_some(&mut recv, HELLO_LIMIT, pace, "the initiator's hello")
        .await?
        .expect(Kind::Hello, "a hello")?;
    let peer = PeerHello::parse(config, &theirs)?;
    let limit = peer.limit;
    let we_take = permission == Permission::ReadWrite;
    frame::write(
        &mut send,
        Kind::Hello,
        &hello(config, we_take),
        HELLO_LIMIT,
        pace,
    )
    .await?;

    blocking(|| store.refresh(set)).context("refreshing the store")?;
    let mut session = Session::with_limits(set.snapshot(), limit.into(), config.limits)?;
    progress.set_phase(Phase::Reconciling);
    let finish = |progress: &Progress, session: &Session| {
        progress.set_phase(Phase::Done);
        let mut stats = progress.stats();
        stats.frame_limit = limit;
        stats.reconcile_bytes_sent = session.bytes_out();
        stats.reconcile_bytes_received = session.bytes_in();
        stats
    };
    let totals = loop {
        let frame = match frame::read(&mut recv, limit, pace).await {
            Ok(Some(frame)) => frame,
            // The initiator finished without a word: its exchange is over, and so is ours.
            Ok(None) => return Ok(finish(progress, &session)),
            Err(error) if error.is::<frame::Silent>() => {
                return Err(
                    error.context("the initiator went silent during reconciliation; session ended")
                );
            }
            Err(error) => return Err(error),
        };
        match frame.kind {
            Kind::Reconcile => {
                let step = session
                    .reconcile(&frame.payload)
                    .context("reconciling with the initiator's message")?;
                progress.set_rounds(session.rounds());
                // A responder always answers, even with its last message.
                let reply = step
                    .reply
                    .ok_or_else(|| anyhow!("internal error: a responder step without a reply"))?;
                frame::write(&mut send, Kind::Reconcile, &reply, limit, pace).await?;
            }
            Kind::ReconcileDone => {
                let mut fields = Fields::new(&frame.payload, "ReconcileDone");
                let totals = (fields.u64()?, fields.u64()?);
                fields.end()?;
                break totals;
            }
            _ => return Err(frame.unexpected("a reconciliation message")),
        }
    };
    // The initiator sends what it has that we lack, and asks for what we have that it lacks.
    let ours = session.snapshot().len() as u64;
    if totals.1 > ours {
        bail!(
            "protocol error: the initiator announced {} requests, but we hold only {ours} documents",
            totals.1
        );
    }
    if totals.0 > 0 && !we_take {
        bail!(
            "protocol error: the initiator announced {} documents to send, but may only read",
            totals.0
        );
    }
    progress.set_totals(totals.1, totals.0);
    progress.set_phase(Phase::Transferring);

    let link = Link {
        limit,
        pace,
        config,
        peer,
        we_take,
    };
    let (wants, mut wanted) = mpsc::channel::<Vec<Id>>(16);
    let receiving = async {
        // Each of our documents at most once: a peer may not make us send one again and again.
        let mut asked = HashSet::new();
        let mut quota = Quota::default();
        let mut announced = totals.0;
        loop {
            let frame = frame::read_some(&mut recv, limit, pace, "the initiator's end").await?;
            match frame.kind {
                Kind::Want => {
                    if frame.payload.is_empty() || frame.payload.len() % ID_SIZE != 0 {
                        bail!("protocol error: a Want frame must hold whole IDs");
                    }
                    let ids: Vec<Id> = frame
                        .payload
                        .chunks_exact(ID_SIZE)
                        .map(|id| Id(id.try_into().expect("chunks of 32")))
                        .collect();
                    for id in &ids {
                        if !asked.insert(*id) {
                            bail!("protocol error: the initiator asked for a document twice");
                        }
                    }
                    if asked.len() as u64 > totals.1 {
                        bail!(
                            "protocol error: the initiator asked for more documents than it \
                             announced, or than we have"
                        );
                    }
                    wants
                        .send(ids)
                        .await
                        .map_err(|_| anyhow!("internal error: the sender stopped"))?;
                }
                // We cannot tell which of our documents the initiator lacks, so we take any, up
                // to the number it announced: each is checked against its ID before it is stored.
                Kind::Doc => {
                    link.receive_document(
                        &mut recv,
                        &frame.payload,
                        set,
                        store,
                        progress,
                        &mut quota,
                        |_| match announced.checked_sub(1) {
                            Some(left) => {
                                announced = left;
                                Ok(())
                            }
                            None => Err(anyhow!(
                                "protocol error: the initiator sent more documents than the {} \
                                 it announced",
                                totals.0
                            )),
                        },
                    )
                    .await?
                }
                Kind::End => {
                    drop(wants);
                    return Ok(());
                }
                _ => return Err(frame.unexpected("documents, wants or the end")),
            }
        }
    };
    let sending = async {
        let mut buffer = Vec::new();
        while let Some(ids) = wanted.recv().await {
            for id in ids {
                let document = blocking(|| store.open(&id)).ok().flatten();
                match document {
                    Some(document) if document.size > peer.max_document_size => {
                        let mut payload = id.0.to_vec();
                        payload.extend_from_slice(&document.size.to_be_bytes());
                        frame::write(&mut send, Kind::TooLarge, &payload, limit, pace).await?;
                    }
                    Some(document) if link.sendable(&document).is_ok() => {
                        link.send_document(&mut send, &id, document, &mut buffer, progress)
                            .await?;
                    }
                    _ => frame::write(&mut send, Kind::Missing, &id.0, limit, pace).await?,
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let joined = tokio::try_join!(receiving, sending);
    let flushed = blocking(|| store.flush());
    joined?;
    flushed.context("flushing the received documents to disk")?;

    let stats = finish(progress, &session);
    let mut finished = Vec::with_capacity(16);
    finished.extend_from_slice(&stats.stored.to_be_bytes());
    finished.extend_from_slice(&stats.refused.to_be_bytes());
    frame::write(&mut send, Kind::Finished, &finished, limit, pace).await?;
    send.finish().context("finishing our side of the stream")?;
    // Closing the connection drops data not yet delivered: wait until the initiator has it all
    // (or has closed the connection, which it does once it read `Finished`).
    let _ = tokio::time::timeout(pace.wait(), send.stopped()).await;
    Ok(stats)
}

/// Runs a blocking store call: on a multi-threaded runtime off the async workers (other tasks
/// go on meanwhile), elsewhere in place.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Reads into all of `buffer` unless the reader ends first; returns how much it read.
fn read_full(reader: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Seconds since the epoch, now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// `[version u8][frame limit u32][largest document u64][clock u64][flags u8]`.
fn hello(config: &Config, takes_documents: bool) -> [u8; 22] {
    let mut hello = [0u8; 22];
    hello[0] = PROTOCOL_VERSION;
    hello[1..5].copy_from_slice(&config.frame_limit.to_be_bytes());
    hello[5..13].copy_from_slice(&config.max_document_size.to_be_bytes());
    hello[13..21].copy_from_slice(&now().to_be_bytes());
    hello[21] = if takes_documents { TAKES_DOCUMENTS } else { 0 };
    hello
}

/// What the peer's hello said, and what follows from it.
#[derive(Clone, Copy, Debug)]
struct PeerHello {
    /// The session's frame limit: the smaller of the two announced.
    limit: u32,
    /// The largest document the peer takes.
    max_document_size: u64,
    /// Whether the peer's clock is within the allowed skew of ours.
    clock_ok: bool,
    /// How far off the peer's clock is, in seconds.
    clock_off: u64,
    /// Whether the peer takes documents from us.
    takes_documents: bool,
}

impl PeerHello {
    fn parse(config: &Config, theirs: &[u8]) -> Result<Self> {
        let mut fields = Fields::new(theirs, "Hello");
        let version = fields.u8()?;
        if version != PROTOCOL_VERSION {
            bail!(
                "the peer speaks negsync transport version {version}, we speak {PROTOCOL_VERSION}"
            );
        }
        let limit = fields.u32()?;
        if !(MIN_FRAME_LIMIT..=MAX_FRAME_LIMIT).contains(&limit) {
            bail!(
                "protocol error: the peer announced a frame limit of {limit} bytes, outside \
                 {MIN_FRAME_LIMIT}..={MAX_FRAME_LIMIT}"
            );
        }
        // The fields after the frame limit were added later: a hello without them announces
        // no size limit, no clock, and takes documents. Later versions may add more fields;
        // this one reads only its own.
        let rest = fields.rest();
        let mut fields = Fields::new(rest, "Hello");
        let (max_document_size, clock, flags) = if rest.is_empty() {
            (u64::MAX, None, TAKES_DOCUMENTS)
        } else {
            (fields.u64()?, Some(fields.u64()?), fields.u8()?)
        };
        let clock_off = clock.map_or(0, |clock| clock.abs_diff(now()));
        Ok(Self {
            limit: limit.min(config.frame_limit),
            max_document_size,
            clock_ok: clock_off <= config.max_clock_skew.as_secs(),
            clock_off,
            takes_documents: flags & TAKES_DOCUMENTS != 0,
        })
    }
}

/// What one side has received in one sync, against [`Config::max_docs_per_sync`] and
/// [`Config::max_bytes_per_sync`].
#[derive(Default)]
struct Quota {
    docs: u64,
    bytes: u64,
}

/// What both transfer directions need to know.
struct Link<'a> {
    limit: u32,
    pace: &'a Pace,
    config: &'a Config,
    peer: PeerHello,
    /// Whether this side takes documents from the peer.
    we_take: bool,
}

impl Link<'_> {
    /// Why `document` cannot go to the peer, if it cannot.
    fn sendable(&self, document: &Outgoing) -> Result<(), String> {
        if DOC_HEADER + document.key.len() > self.limit as usize {
            return Err(format!(
                "a key of {} bytes does not fit in a frame",
                document.key.len()
            ));
        }
        if document.size > self.peer.max_document_size {
            return Err(format!(
                "{} bytes, over the peer's limit of {}",
                document.size, self.peer.max_document_size
            ));
        }
        Ok(())
    }

    /// Sends one document: a `Doc` frame, then its bytes in `Data` frames of at most the limit,
    /// read from the store one frame at a time into `buffer`. The caller checked it with
    /// [`sendable`](Self::sendable).
    async fn send_document(
        &self,
        send: &mut SendStream,
        id: &Id,
        mut document: Outgoing,
        buffer: &mut Vec<u8>,
        progress: &Progress,
    ) -> Result<()> {
        let mut header = Vec::with_capacity(DOC_HEADER + document.key.len());
        header.extend_from_slice(&id.0);
        header.extend_from_slice(&document.timestamp.to_be_bytes());
        header.extend_from_slice(&document.size.to_be_bytes());
        header.extend_from_slice(&document.key);
        frame::write(send, Kind::Doc, &header, self.limit, self.pace).await?;
        let mut left = document.size;
        let mut short = false;
        while left > 0 {
            let n = left.min(u64::from(self.limit)) as usize;
            buffer.clear();
            buffer.resize(n, 0);
            if !short {
                let read = blocking(|| read_full(&mut document.bytes, buffer))
                    .context("reading a document to send")?;
                // The document shrank since it was opened: zeros for the rest, which the
                // receiver refuses (they do not match the ID).
                short = read < n;
            }
            frame::write(send, Kind::Data, buffer, self.limit, self.pace).await?;
            left -= n as u64;
        }
        progress.sent(document.size);
        Ok(())
    }

    /// Receives the document whose `Doc` frame is `header` (its `Data` frames follow on `recv`),
    /// checks it, and stores it. What the peer was told or agreed to (this side takes documents
    /// at all, their largest size, how many, which ones: `accept(id)`) and this side's quotas
    /// are checked from the header, before any byte is read: breaking them ends the session. A
    /// document that fails a later check (its timestamp, its bytes against its ID, the store) is
    /// refused: counted, not stored, and the sync goes on.
    #[allow(clippy::too_many_arguments)]
    async fn receive_document(
        &self,
        recv: &mut RecvStream,
        header: &[u8],
        set: &ItemSet,
        store: &dyn DocumentStore,
        progress: &Progress,
        quota: &mut Quota,
        accept: impl FnOnce(&Id) -> Result<()>,
    ) -> Result<()> {
        let mut fields = Fields::new(header, "Doc");
        let id = fields.id()?;
        let timestamp = fields.u64()?;
        let size = fields.u64()?;
        let key = fields.rest().to_vec();
        let config = self.config;

        if !self.we_take {
            bail!("protocol error: the peer sent a document, but may only read");
        }
        if size > config.max_document_size {
            bail!(
                "protocol error: the peer sent a document of {size} bytes, over the limit of {} \
                 we announced",
                config.max_document_size
            );
        }
        accept(&id)?;
        quota.docs += 1;
        quota.bytes = quota.bytes.saturating_add(size);
        if quota.docs > config.max_docs_per_sync {
            bail!(
                "quota: more than {} documents in one sync (the rest waits for the next sync)",
                config.max_docs_per_sync
            );
        }
        if quota.bytes > config.max_bytes_per_sync {
            bail!(
                "quota: more than {} document bytes in one sync (the rest waits for the next sync)",
                config.max_bytes_per_sync
            );
        }

        // Checks that refuse this document only; its bytes are read (bounded by the checks
        // above) to keep the stream in step.
        let skew = config.max_clock_skew.as_secs();
        let refusal = if !self.peer.clock_ok {
            Some(format!(
                "refused: the peer's clock is {} s off ours, more than the allowed skew of {skew} s",
                self.peer.clock_off
            ))
        } else if timestamp > now().saturating_add(skew) {
            Some(format!(
                "refused: its timestamp {timestamp} is more than {skew} s in the future"
            ))
        } else if timestamp > Item::MAX_TIMESTAMP {
            Some(format!("refused: timestamp {timestamp} out of range"))
        } else {
            None
        };

        // Where the bytes go: nowhere (refused or kept), into memory for `put`, or into the
        // store as they arrive, hashed on the way.
        enum Sink<'s> {
            Skip,
            Whole(Vec<u8>),
            Stream(Box<dyn Receiving + Send + 's>, Sha256),
        }
        let shown = escape_bytes(&key[..key.len().min(200)]);
        let refuse = |why: String| progress.refuse(format!("{shown} ({id}): {why}"));
        let store_error = |error: anyhow::Error| {
            format!(
                "refused by the store: {}",
                super::text::escape(&format!("{error:#}"))
            )
        };
        let mut failure = refusal;
        let mut kept = false;
        let mut sink = Sink::Skip;
        if failure.is_none() {
            match blocking(|| store.begin(&id, &key, timestamp, size)) {
                Ok(Receive::Whole) => sink = Sink::Whole(Vec::with_capacity(size as usize)),
                Ok(Receive::Kept) => kept = true,
                Ok(Receive::Stream(incoming)) => sink = Sink::Stream(incoming, Sha256::new()),
                Err(error) => failure = Some(store_error(error)),
            }
        }
        let mut left = size;
        while left > 0 {
            let data = frame::read_some(recv, self.limit, self.pace, "a document's bytes")
                .await?
                .expect(Kind::Data, "a document's bytes")?;
            if data.is_empty() || data.len() as u64 > left {
                bail!("protocol error: a document's Data frames do not add up to its size");
            }
            left -= data.len() as u64;
            let written = match &mut sink {
                Sink::Skip => Ok(()),
                Sink::Whole(contents) => {
                    contents.extend_from_slice(&data);
                    Ok(())
                }
                Sink::Stream(incoming, hasher) => {
                    hasher.update(&data);
                    blocking(|| incoming.write(&data))
                }
            };
            if let Err(error) = written {
                // Dropping the writer discards what it wrote; the rest is read past.
                sink = Sink::Skip;
                failure = Some(store_error(error));
            }
        }
        progress.received(size);

        if let Some(why) = failure {
            refuse(why);
            return Ok(());
        }
        let outcome = match sink {
            Sink::Skip if kept => Ok(PutOutcome::Kept),
            Sink::Skip => return Ok(()),
            Sink::Whole(contents) => {
                let document = Document {
                    key,
                    timestamp,
                    contents,
                };
                let actual = store.id_of(&document);
                if actual != id {
                    refuse(format!(
                        "refused: its bytes do not match its ID (they make {actual})"
                    ));
                    return Ok(());
                }
                blocking(|| store.put(&id, document))
            }
            Sink::Stream(incoming, hasher) => {
                let actual = id_for_version(&key, &hasher.finalize());
                if actual != id {
                    drop(incoming);
                    refuse(format!(
                        "refused: its bytes do not match its ID (they make {actual})"
                    ));
                    return Ok(());
                }
                blocking(|| incoming.commit())
            }
        };
        match outcome {
            Ok(PutOutcome::Stored { replaced }) => {
                if let Some(old) = replaced {
                    set.remove(old.timestamp, old.id);
                }
                set.insert(timestamp, id)?;
                progress.store();
            }
            Ok(PutOutcome::Kept) => progress.keep(),
            Err(error) => refuse(store_error(error)),
        }
        Ok(())
    }
}
