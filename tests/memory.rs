//! The memory of a `negsync serve` with N sessions at once, each moving large files both ways:
//! bounded by N x a per-session amount set by the frame (chunk) size and QUIC's stream windows,
//! not by the files' size, plus a fixed amount. Measured on the server process itself (its peak
//! resident size, `VmHWM` in /proc/PID/status; Linux only), once with one session and once with
//! N. Runs with `--features iroh` (`make net-tests`).
#![cfg(all(feature = "iroh", target_os = "linux"))]

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

#[path = "common/process.rs"]
mod process;
use process::{Server, TempDir};

const NEGSYNC: &str = env!("CARGO_BIN_EXE_negsync");

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// Sessions at once in the large run.
const SESSIONS: usize = 8;

/// Each file moved: one the server sends to every client, one each client sends the server.
/// Far above the per-session bound, so that a session holding a file whole breaks it.
const FILE_SIZE: u64 = 16 * MIB;

/// The frame limit (the chunk documents move in): `negsync`'s default.
const FRAME: u64 = MIB;

/// QUIC's window for one stream (iroh's default, 1.25 MB): how much of a stream the receiving
/// side buffers, and so also how much the sending side keeps unacknowledged.
const QUIC_STREAM_WINDOW: u64 = 1_250_000;

/// What one session may add to the server's memory: a frame being read, one being written and
/// a chunk of file read for sending (a frame each), the Negentropy state (small here), and QUIC's
/// buffers for the stream, both ways. Measured on 2 cores: about 7 MiB a session with 1 MiB
/// frames, 4 MiB with 64 KiB frames (QUIC's share: received packets are kept in the buffers
/// they arrived in, so a window costs more than its size), 5 MiB with one malloc arena.
const PER_SESSION: u64 = 4 * FRAME + 4 * QUIC_STREAM_WINDOW;

/// What the server may add whatever the number of sessions: thread stacks touched by the
/// blocking file calls, glibc's malloc arenas (up to 8 per core, each keeping what it freed),
/// the runtime's and iroh's buffers.
const FIXED: u64 = 24 * MIB;

/// A file of `size` bytes drawn from `seed` (not sparse: every byte is read, sent and hashed).
fn write_file(path: &Path, size: u64, seed: u64) {
    let mut file = File::create(path).unwrap();
    let mut state = seed;
    let mut chunk = vec![0u8; 64 * KIB as usize];
    for _ in 0..size / chunk.len() as u64 {
        for word in chunk.chunks_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            word.copy_from_slice(&(state ^ (state >> 29)).to_le_bytes());
        }
        file.write_all(&chunk).unwrap();
    }
    file.set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .unwrap();
}

/// A running `negsync serve` of `dir`, open to anyone.
fn serve(dir: &Path) -> Server {
    let mut command = Command::new(NEGSYNC);
    command
        .args(["serve", "--dir", dir.to_str().unwrap(), "--open"])
        .args(["--frame-limit", &FRAME.to_string()]);
    Server::start(command, false)
}

/// The peak resident size so far of process `pid`, in bytes.
fn peak(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .map(|kib| kib.trim().parse::<u64>().unwrap() * KIB)
        .expect("VmHWM in /proc/PID/status")
}

/// What one run measured.
struct Run {
    /// The server's peak resident size once it listens (its directory scanned).
    idle: u64,
    /// Its peak by the end of every session.
    peak: u64,
    took: Duration,
}

impl Run {
    fn growth(&self) -> u64 {
        self.peak.saturating_sub(self.idle)
    }
}

/// `sessions` clients sync with one server at once: each fetches the server's file and sends
/// its own, both [`FILE_SIZE`].
fn run(sessions: usize) -> Run {
    let root = TempDir::new("memory", &format!("{sessions}"));
    let served = root.0.join("served");
    fs::create_dir(&served).unwrap();
    write_file(&served.join("shared.bin"), FILE_SIZE, 1);
    let clients: Vec<PathBuf> = (0..sessions)
        .map(|n| {
            let dir = root.0.join(format!("client-{n}"));
            fs::create_dir(&dir).unwrap();
            write_file(
                &dir.join(format!("from-{n}.bin")),
                FILE_SIZE,
                100 + n as u64,
            );
            dir
        })
        .collect();
    let server = serve(&served);
    let idle = peak(server.pid());
    let started = Instant::now();
    let children: Vec<Child> = clients
        .iter()
        .map(|dir| {
            Command::new(NEGSYNC)
                .args([
                    "sync",
                    "--dir",
                    dir.to_str().unwrap(),
                    "--peer",
                    &server.peer,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting negsync sync")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "negsync sync failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for _ in 0..sessions {
        server.wait_for("synced with");
    }
    let took = started.elapsed();
    let peak = peak(server.pid());
    // Every file arrived whole on both sides.
    for (n, dir) in clients.iter().enumerate() {
        assert_eq!(
            fs::metadata(dir.join("shared.bin")).unwrap().len(),
            FILE_SIZE
        );
        let sent = served.join(format!("from-{n}.bin"));
        assert_eq!(fs::metadata(sent).unwrap().len(), FILE_SIZE);
    }
    Run { idle, peak, took }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

#[test]
fn server_memory_is_bounded_by_sessions_times_a_chunk_not_by_file_size() {
    let one = run(1);
    let many = run(SESSIONS);
    let bound = |sessions: u64| sessions * PER_SESSION + FIXED;
    println!(
        "MEMORY: negsync serve, each session fetching one {:.0} MiB file and sending another, \
         frame {:.0} MiB:",
        mib(FILE_SIZE),
        mib(FRAME)
    );
    for (sessions, run) in [(1, &one), (SESSIONS, &many)] {
        println!(
            "MEMORY:   {sessions} session(s): idle peak {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB \
             (bound {sessions} x {:.1} MiB + {:.0} MiB = {:.1} MiB; {} MiB moved in {:.1} s)",
            mib(run.idle),
            mib(run.peak),
            mib(run.growth()),
            mib(PER_SESSION),
            mib(FIXED),
            mib(bound(sessions as u64)),
            mib(2 * FILE_SIZE * sessions as u64),
            run.took.as_secs_f64()
        );
    }
    println!(
        "MEMORY:   each session beyond the first added {:.1} MiB; holding the files whole would \
         add at least {:.0} MiB",
        (mib(many.growth()) - mib(one.growth())) / (SESSIONS - 1) as f64,
        mib(2 * FILE_SIZE)
    );
    assert!(one.growth() <= bound(1), "one session over its bound");
    assert!(
        many.growth() <= bound(SESSIONS as u64),
        "{SESSIONS} sessions over their bound"
    );
}
