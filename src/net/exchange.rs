//! One session on one bidirectional stream: hello, reconciliation, document transfer.
//!
//! ```text
//! initiator                                   responder
//!   Hello {version, frame limit}          ->
//!                                         <-  Hello {version, frame limit}
//!   Reconcile (first message)             ->
//!                                         <-  Reconcile (reply)          ... every round
//!   ReconcileDone {to send, to ask}       ->
//!   Want [ids]..., Doc+Data..., End       ->  (both directions at once)
//!                                         <-  Doc+Data or Missing for each wanted ID
//!                                         <-  Finished {stored, refused}
//!   closes the connection
//! ```
//!
//! The responder ends its session when the initiator says `ReconcileDone`, when it finishes its
//! side of the stream, or when it goes silent for a round timeout, whether or not the responder's
//! own session reported `complete` (the initiator may finish after a frame-cut reply).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use iroh::endpoint::{RecvStream, SendStream};
use tokio::sync::mpsc;

use super::frame::{self, Fields, HELLO_LIMIT, Kind};
use super::stats::{Phase, Progress, SyncStats};
use super::store::{Document, DocumentStore, PutOutcome};
use super::{Config, MAX_FRAME_LIMIT, MIN_FRAME_LIMIT, PROTOCOL_VERSION};
use crate::id::{ID_SIZE, Id, Item};
use crate::session::Session;
use crate::set::ItemSet;

/// Bytes of a `Doc` frame before the key: ID, timestamp, size.
const DOC_HEADER: usize = ID_SIZE + 8 + 8;

/// The initiator's side, on a freshly opened stream.
pub(crate) async fn initiate(
    mut send: SendStream,
    mut recv: RecvStream,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    progress: &Progress,
) -> Result<SyncStats> {
    let wait = config.round_timeout;
    frame::write(&mut send, Kind::Hello, &hello(config), HELLO_LIMIT, wait).await?;
    let theirs = frame::read_some(&mut recv, HELLO_LIMIT, wait, "the peer's hello")
        .await?
        .expect(Kind::Hello, "a hello")?;
    let limit = negotiate(config, &theirs)?;

    store.refresh(set).context("refreshing the store")?;
    let mut session = Session::with_limits(set.snapshot(), limit.into(), config.limits)?;
    progress.set_phase(Phase::Reconciling);
    let mut message = session.initiate()?;
    loop {
        frame::write(&mut send, Kind::Reconcile, &message, limit, wait).await?;
        let reply = frame::read_some(&mut recv, limit, wait, "a reconciliation reply")
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
    let have = session.have_ids()?.to_vec();
    let need = session.need_ids()?.to_vec();
    progress.set_totals(have.len() as u64, need.len() as u64);
    let mut done = Vec::with_capacity(16);
    done.extend_from_slice(&(have.len() as u64).to_be_bytes());
    done.extend_from_slice(&(need.len() as u64).to_be_bytes());
    frame::write(&mut send, Kind::ReconcileDone, &done, limit, wait).await?;

    progress.set_phase(Phase::Transferring);
    let link = Link {
        limit,
        wait,
        max_document_size: config.max_document_size,
    };
    let sending = async {
        for chunk in need.chunks(limit as usize / ID_SIZE) {
            let ids: Vec<u8> = chunk.iter().flat_map(|id| id.0).collect();
            frame::write(&mut send, Kind::Want, &ids, limit, wait).await?;
        }
        for id in &have {
            // A document that changed since the snapshot is no longer ours to offer.
            if let Some(document) = store.get(id).context("reading a document to send")? {
                link.send_document(&mut send, id, &document, progress)
                    .await?;
            }
        }
        frame::write(&mut send, Kind::End, &[], limit, wait).await?;
        send.finish().context("finishing our side of the stream")?;
        Ok::<_, anyhow::Error>(())
    };
    let receiving = async {
        let mut wanted: HashSet<Id> = need.iter().copied().collect();
        loop {
            let frame = frame::read_some(&mut recv, limit, wait, "the peer's documents").await?;
            match frame.kind {
                Kind::Doc => {
                    link.receive_document(&mut recv, &frame.payload, set, store, progress, |id| {
                        wanted.remove(id)
                    })
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
    let ((), (peer_stored, peer_refused)) = tokio::try_join!(sending, receiving)?;
    progress.set_phase(Phase::Done);

    let mut stats = progress.stats();
    stats.frame_limit = limit;
    stats.reconcile_bytes_sent = session.bytes_out();
    stats.reconcile_bytes_received = session.bytes_in();
    stats.peer_stored = Some(peer_stored);
    stats.peer_refused = Some(peer_refused);
    Ok(stats)
}

/// The responder's side, on a stream the initiator opened.
pub(crate) async fn respond(
    mut send: SendStream,
    mut recv: RecvStream,
    set: &ItemSet,
    store: &dyn DocumentStore,
    config: &Config,
    progress: &Progress,
) -> Result<SyncStats> {
    let wait = config.round_timeout;
    let theirs = frame::read_some(&mut recv, HELLO_LIMIT, wait, "the initiator's hello")
        .await?
        .expect(Kind::Hello, "a hello")?;
    let limit = negotiate(config, &theirs)?;
    frame::write(&mut send, Kind::Hello, &hello(config), HELLO_LIMIT, wait).await?;

    store.refresh(set).context("refreshing the store")?;
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
        let frame = match frame::read(&mut recv, limit, wait).await {
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
                frame::write(&mut send, Kind::Reconcile, &reply, limit, wait).await?;
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
    progress.set_totals(totals.1, totals.0);
    progress.set_phase(Phase::Transferring);

    let link = Link {
        limit,
        wait,
        max_document_size: config.max_document_size,
    };
    let (wants, mut wanted) = mpsc::channel::<Vec<Id>>(16);
    let receiving = async {
        // Each of our documents at most once: a peer may not make us send one again and again.
        let mut asked = HashSet::new();
        let ours = session.snapshot().len();
        loop {
            let frame = frame::read_some(&mut recv, limit, wait, "the initiator's end").await?;
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
                    if asked.len() as u64 > totals.1 || asked.len() > ours {
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
                // We cannot tell which of our documents the initiator lacks, so we take any:
                // each is checked against its ID before it is stored.
                Kind::Doc => {
                    link.receive_document(&mut recv, &frame.payload, set, store, progress, |_| true)
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
        while let Some(ids) = wanted.recv().await {
            for id in ids {
                let sent = match store.get(&id) {
                    Ok(Some(document)) => {
                        link.send_document(&mut send, &id, &document, progress)
                            .await?
                    }
                    Ok(None) | Err(_) => false,
                };
                if !sent {
                    frame::write(&mut send, Kind::Missing, &id.0, limit, wait).await?;
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(receiving, sending)?;

    let stats = finish(progress, &session);
    let stored = stats.docs_received - stats.refused - stats.kept;
    let mut finished = Vec::with_capacity(16);
    finished.extend_from_slice(&stored.to_be_bytes());
    finished.extend_from_slice(&stats.refused.to_be_bytes());
    frame::write(&mut send, Kind::Finished, &finished, limit, wait).await?;
    send.finish().context("finishing our side of the stream")?;
    // Closing the connection drops data not yet delivered: wait until the initiator has it all
    // (or has closed the connection, which it does once it read `Finished`).
    let _ = tokio::time::timeout(wait, send.stopped()).await;
    Ok(stats)
}

fn hello(config: &Config) -> [u8; 5] {
    let mut hello = [0u8; 5];
    hello[0] = PROTOCOL_VERSION;
    hello[1..].copy_from_slice(&config.frame_limit.to_be_bytes());
    hello
}

/// The frame limit of the session: the smaller of the two announced.
fn negotiate(config: &Config, theirs: &[u8]) -> Result<u32> {
    let mut fields = Fields::new(theirs, "Hello");
    let version = fields.u8()?;
    if version != PROTOCOL_VERSION {
        bail!("the peer speaks negsync transport version {version}, we speak {PROTOCOL_VERSION}");
    }
    let limit = fields.u32()?;
    // Later versions may add fields; this one reads only its own.
    let _ = fields.rest();
    if !(MIN_FRAME_LIMIT..=MAX_FRAME_LIMIT).contains(&limit) {
        bail!(
            "protocol error: the peer announced a frame limit of {limit} bytes, outside \
             {MIN_FRAME_LIMIT}..={MAX_FRAME_LIMIT}"
        );
    }
    Ok(limit.min(config.frame_limit))
}

/// What both transfer directions need to know.
struct Link {
    limit: u32,
    wait: Duration,
    max_document_size: u64,
}

impl Link {
    /// Sends one document: a `Doc` frame, then its bytes in `Data` frames of at most the limit.
    /// `Ok(false)` when its key does not fit in a frame (it is not sent).
    async fn send_document(
        &self,
        send: &mut SendStream,
        id: &Id,
        document: &Document,
        progress: &Progress,
    ) -> Result<bool> {
        if DOC_HEADER + document.key.len() > self.limit as usize {
            progress.refuse(format!(
                "not sent: a key of {} bytes does not fit in a frame",
                document.key.len()
            ));
            return Ok(false);
        }
        let mut header = Vec::with_capacity(DOC_HEADER + document.key.len());
        header.extend_from_slice(&id.0);
        header.extend_from_slice(&document.timestamp.to_be_bytes());
        header.extend_from_slice(&(document.contents.len() as u64).to_be_bytes());
        header.extend_from_slice(&document.key);
        frame::write(send, Kind::Doc, &header, self.limit, self.wait).await?;
        for chunk in document.contents.chunks(self.limit as usize) {
            frame::write(send, Kind::Data, chunk, self.limit, self.wait).await?;
        }
        progress.sent(document.contents.len() as u64);
        Ok(true)
    }

    /// Receives the document whose `Doc` frame is `header` (its `Data` frames follow on `recv`),
    /// checks it, and stores it. A document that fails a check is refused: counted, not stored,
    /// and the sync goes on. `accept(id)` says whether this side takes a document with that ID
    /// at all.
    async fn receive_document(
        &self,
        recv: &mut RecvStream,
        header: &[u8],
        set: &ItemSet,
        store: &dyn DocumentStore,
        progress: &Progress,
        mut accept: impl FnMut(&Id) -> bool,
    ) -> Result<()> {
        let mut fields = Fields::new(header, "Doc");
        let id = fields.id()?;
        let timestamp = fields.u64()?;
        let size = fields.u64()?;
        let key = fields.rest().to_vec();

        // Read the bytes in any case, so the stream stays in step; keep them only when wanted.
        let keep = size <= self.max_document_size;
        let mut contents = Vec::new();
        if keep {
            contents.reserve(size.min(1 << 20) as usize);
        }
        let mut left = size;
        while left > 0 {
            let data = frame::read_some(recv, self.limit, self.wait, "a document's bytes")
                .await?
                .expect(Kind::Data, "a document's bytes")?;
            if data.is_empty() || data.len() as u64 > left {
                bail!("protocol error: a document's Data frames do not add up to its size");
            }
            left -= data.len() as u64;
            if keep {
                contents.extend_from_slice(&data);
            }
        }
        progress.received(size);

        let refuse = |why: String| progress.refuse(format!("{id}: {why}"));
        if !accept(&id) {
            refuse("refused: this side did not ask for it".into());
            return Ok(());
        }
        if !keep {
            refuse(format!(
                "refused: {size} bytes, over the limit of {}",
                self.max_document_size
            ));
            return Ok(());
        }
        let item = match Item::new(timestamp, id) {
            Ok(item) => item,
            Err(error) => {
                refuse(format!("refused: {error}"));
                return Ok(());
            }
        };
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
        match store.put(&id, document) {
            Ok(PutOutcome::Stored { replaced }) => {
                if let Some(old) = replaced {
                    set.remove(old.timestamp, old.id);
                }
                set.insert(item.timestamp, item.id)?;
            }
            Ok(PutOutcome::Kept) => progress.keep(),
            Err(error) => refuse(format!("refused by the store: {error:#}")),
        }
        Ok(())
    }
}
