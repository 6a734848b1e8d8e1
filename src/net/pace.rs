//! How long a session may take: a whole-session deadline and a minimum transfer rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::sync::Notify;

use super::Config;

/// One running session as the server's slot keeper sees it: how much it moved, since when, and
/// a way to end it.
#[derive(Debug)]
pub(crate) struct Live {
    started: Instant,
    bytes: AtomicU64,
    /// When the last whole frame went either way, in milliseconds since `started`.
    last_frame: AtomicU64,
    evicted: AtomicBool,
    pub(crate) kill: Notify,
}

impl Live {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            last_frame: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            kill: Notify::new(),
        })
    }

    /// How long since the last whole frame went either way.
    pub(crate) fn idle(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_frame.load(Relaxed)))
    }

    /// Asks the session to end (once); false when it was asked already.
    pub(crate) fn evict(&self) -> bool {
        if self.evicted.swap(true, Relaxed) {
            return false;
        }
        self.kill.notify_one();
        true
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Relaxed)
    }
}

/// The clock of one session: every read and write waits at most until the next of the round
/// timeout, the session's deadline, and the moment its traffic falls below the minimum rate.
#[derive(Debug)]
pub(crate) struct Pace {
    live: Arc<Live>,
    round_timeout: Duration,
    deadline: Instant,
    min_rate: u64,
    grace: Duration,
}

impl Pace {
    pub(crate) fn new(config: &Config, live: Arc<Live>) -> Self {
        Self {
            deadline: live.started + config.session_deadline,
            live,
            round_timeout: config.round_timeout,
            min_rate: config.min_rate,
            grace: config.rate_grace,
        }
    }

    /// Counts a whole frame of `n` bytes moved either way.
    pub(crate) fn moved(&self, n: usize) {
        self.live.bytes.fetch_add(n as u64, Relaxed);
        let at = self.live.started.elapsed().as_millis();
        self.live
            .last_frame
            .store(u64::try_from(at).unwrap_or(u64::MAX), Relaxed);
    }

    /// When the traffic so far stops meeting the minimum rate, if nothing more moves.
    fn rate_deadline(&self) -> Option<Instant> {
        if self.min_rate == 0 {
            return None;
        }
        let earned = self.live.bytes.load(Relaxed) as f64 / self.min_rate as f64;
        let earned = Duration::try_from_secs_f64(earned).unwrap_or(Duration::MAX);
        Some(
            self.live
                .started
                .checked_add(self.grace.saturating_add(earned))
                .unwrap_or(self.deadline),
        )
    }

    /// How long the next read or write may wait.
    pub(crate) fn wait(&self) -> Duration {
        let now = Instant::now();
        let mut until = self.deadline;
        if let Some(rate) = self.rate_deadline() {
            until = until.min(rate);
        }
        until
            .saturating_duration_since(now)
            .min(self.round_timeout)
            // Always give a frame a moment: the check after it tells whether time is up.
            .max(Duration::from_millis(1))
    }

    /// Fails when the session is past its deadline or below its minimum rate.
    pub(crate) fn check(&self) -> Result<()> {
        let now = Instant::now();
        if now >= self.deadline {
            bail!(
                "the session passed its deadline of {} s",
                (self.deadline - self.live.started).as_secs_f64()
            );
        }
        if let Some(rate) = self.rate_deadline() {
            if now >= rate {
                bail!(
                    "the peer is too slow: {} bytes in {:.1} s, under the minimum of {} bytes/s \
                     (after a grace of {} s)",
                    self.live.bytes.load(Relaxed),
                    self.live.started.elapsed().as_secs_f64(),
                    self.min_rate,
                    self.grace.as_secs_f64()
                );
            }
        }
        Ok(())
    }
}
