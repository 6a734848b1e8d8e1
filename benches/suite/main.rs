//! negsync's benchmark suite, Rust side: the `negentropy` crate used directly (the baseline) and
//! negsync's Rust API, side by side in one binary, on identical data.
//!
//! `cargo bench` runs a short Rust-only pass and prints its table. `make bench` runs the whole
//! suite through `benches/run.py`, which calls this program's subcommands, the C bench and the
//! Python bench in turns, and prints the table with every target.
//!
//! Subcommands (each prints one JSON line per measurement, see `record.rs`):
//!
//! ```text
//! generate DIR                     writes DIR/large.bin (S1, S2) and DIR/small.bin (S3)
//! exchange FILE LIMIT REPS WARMUPS S1-S3: REPS exchanges each of crate and negsync, alternating,
//!                                  after WARMUPS unrecorded ones of each
//! build FILE REPS [FIRST]          S4: side A of FILE built by negsync and by the crate
//! session-creation REPS            S5: session creation on 1,000- and 1,000,000-item sets
//! session-memory                   S5: resident growth of 100 sessions over a 100,000-item set
//! resident negsync|negsync-insert|crate
//!                                  S6: resident bytes per item of a 1,000,000-item set
//! profile FILE LIMIT crate|negsync one exchange, for `valgrind --tool=callgrind`
//! radio LIMIT...                   negsync alone (the crate refuses limits under 4096) on
//!                                  10,000 items a side, 10 only on each, both sides at LIMIT
//! ```
//!
//! Memory figures come from separate processes (this program started again with a subcommand):
//! the resident size of a process that already built and dropped large sets says little.

mod data;
mod exchange;
mod memory;
mod record;

use std::env;
use std::hint::black_box;
use std::path::Path;
use std::process::{Command, exit};
use std::time::Instant;

use negsync::{ItemSet, Session};

use crate::data::{LARGE, RADIO, SMALL};
use crate::exchange::{Outcome, build_crate_storage, build_negsync_set, run_crate, run_negsync};
use crate::memory::resident_bytes;
use crate::record::Record;

/// S6 measures a set of a million items (S4 builds side A of the S1 file, as many); S5 times
/// session creation on a 1,000-item set and on one of this size.
const BUILD_ITEMS: usize = 1_000_000;
const SESSIONS_SET_ITEMS: usize = 100_000;
const SESSIONS: usize = 100;
const SMALL_SET_ITEMS: usize = 1_000;
/// Sessions created per timed batch: enough that one clock reading costs nothing in comparison.
const CREATION_BATCH: usize = 1_000;
/// Seed for the single sets of S4–S6 (the pairs carry their own).
const SINGLE_SET_SEED: u64 = 7;

const USAGE: &str = "usage: suite [generate DIR | exchange FILE LIMIT REPS WARMUPS | build FILE REPS [rust|crate] | \
session-creation REPS | session-memory | resident negsync|negsync-insert|crate | \
profile FILE LIMIT crate|negsync | radio LIMIT...]";

fn main() {
    // `cargo bench` passes `--bench` to a harness-less bench; it means "the default run" here.
    let args: Vec<String> = env::args().skip(1).filter(|a| a != "--bench").collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => quick_suite(),
        ["generate", dir] => generate(Path::new(dir)),
        ["exchange", file, limit, reps, warmups] => exchange(
            Path::new(file),
            number(limit),
            number(reps),
            number(warmups),
        ),
        ["build", file, reps] => build(Path::new(file), number(reps), "rust"),
        ["build", file, reps, first] => build(Path::new(file), number(reps), first),
        ["session-creation", reps] => session_creation(number(reps)),
        ["session-memory"] => session_memory(),
        ["resident", variant] => resident(variant),
        ["profile", file, limit, variant] => profile(Path::new(file), number(limit), variant),
        ["radio", limits @ ..] if !limits.is_empty() => radio(limits.iter().map(|l| number(l))),
        _ => {
            eprintln!("{USAGE}");
            exit(2);
        }
    }
}

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse().unwrap_or_else(|_| {
        eprintln!("not a number: {text}\n{USAGE}");
        exit(2)
    })
}

fn generate(dir: &Path) {
    for (name, spec) in [("large.bin", LARGE), ("small.bin", SMALL)] {
        let path = dir.join(name);
        let pair = data::generate(spec);
        data::write(&path, &pair).expect("writing the bench data file");
        Record::new("data", "rust")
            .text("file", &path.display().to_string())
            .int("items_a", pair.a.len() as u64)
            .int("items_b", pair.b.len() as u64)
            .int("differences", spec.differences() as u64)
            .print();
    }
}

fn exchange_record(variant: &str, file: &Path, limit: u64, outcome: &Outcome) -> Record {
    outcome_record(
        Record::new("exchange", variant).text("file", &file.display().to_string()),
        limit,
        outcome,
    )
}

/// What every exchange reports: its limit, time, rounds, bytes and found IDs.
fn outcome_record(record: Record, limit: u64, outcome: &Outcome) -> Record {
    record
        .int("frame_limit", limit)
        .float("seconds", outcome.seconds)
        .int("round_trips", outcome.round_trips)
        .int("bytes_to_responder", outcome.bytes_to_responder)
        .int("bytes_to_initiator", outcome.bytes_to_initiator)
        .int("have", outcome.have as u64)
        .int("need", outcome.need as u64)
        .int("have_checksum", outcome.have_checksum)
        .int("need_checksum", outcome.need_checksum)
}

/// Runs `reps` exchanges through each of the crate and negsync over the same pair, alternating
/// which goes first so that drift in the machine's speed (other builds on the two cores) falls
/// on both alike. `warmups` unrecorded ones of each come first: the first exchange in a process
/// also pays for growing the heap, which matters for short exchanges and not for long ones.
fn exchange(file: &Path, limit: u64, reps: usize, warmups: usize) {
    let pair = data::read(file).expect("reading the bench data file");
    let (crate_a, crate_b) = (build_crate_storage(&pair.a), build_crate_storage(&pair.b));
    let (negsync_a, negsync_b) = (build_negsync_set(&pair.a), build_negsync_set(&pair.b));
    drop(pair);
    for _ in 0..warmups {
        black_box(run_crate(&crate_a, &crate_b, limit));
        black_box(run_negsync(&negsync_a, &negsync_b, limit));
    }
    for rep in 0..reps {
        let crate_first = rep % 2 == 0;
        for turn in 0..2 {
            if (turn == 0) == crate_first {
                let outcome = run_crate(&crate_a, &crate_b, limit);
                exchange_record("crate", file, limit, &outcome).print();
            } else {
                let outcome = run_negsync(&negsync_a, &negsync_b, limit);
                exchange_record("rust", file, limit, &outcome).print();
            }
        }
    }
}

/// S4 in Rust: negsync's `insert_many` + snapshot, and, for reference, the crate's per-item
/// insert + seal, on side A of `file`. The process's first build (of `first`: "rust" or
/// "crate") is recorded apart, as `first_build`: the large blocks a process first asks for come
/// fresh from the kernel, later ones mostly back through the allocator (glibc raises its mmap
/// threshold when a large block is freed; blocks over 32 MiB are always fresh). negsync's sort
/// keys (16 MB) are such blocks, the crate's in-place sort has none. Then one untimed build of
/// the other variant, so that the timed builds that follow all run in the same warm process.
fn build(file: &Path, reps: usize, first: &str) {
    let side = data::read(file).expect("reading the bench data file").a;
    let time_rust = |method: &str| {
        let started = Instant::now();
        let set = build_negsync_set(&side);
        let seconds = started.elapsed().as_secs_f64();
        build_record("rust", method, seconds, side.len(), set.len()).print();
    };
    let time_crate = |method: &str| {
        let started = Instant::now();
        let storage = build_crate_storage(&side);
        let seconds = started.elapsed().as_secs_f64();
        black_box(storage);
        build_record("crate", method, seconds, side.len(), side.len()).print();
    };
    match first {
        "rust" => {
            time_rust("first_build");
            black_box(build_crate_storage(&side));
        }
        "crate" => {
            time_crate("first_build");
            black_box(build_negsync_set(&side));
        }
        other => {
            eprintln!("build: the first variant is rust or crate, not {other:?}");
            exit(2);
        }
    }
    for rep in 0..reps {
        for turn in 0..2 {
            if (turn == 0) == (rep % 2 == 0) {
                time_rust("insert_many");
            } else {
                time_crate("insert_many");
            }
        }
    }
}

fn build_record(
    variant: &str,
    method: &str,
    seconds: f64,
    items: usize,
    distinct: usize,
) -> Record {
    Record::new("build", variant)
        .text("method", method)
        .float("seconds", seconds)
        .int("items", items as u64)
        .int("distinct", distinct as u64)
}

/// Median seconds per session creation (snapshot of an unchanged set + `Session::new`), over
/// `reps` batches.
fn creation_seconds(set: &ItemSet, reps: usize) -> f64 {
    let mut sessions = Vec::with_capacity(CREATION_BATCH);
    let mut per_session = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        for _ in 0..CREATION_BATCH {
            sessions.push(Session::new(set.snapshot(), 0).expect("valid limit"));
        }
        per_session.push(started.elapsed().as_secs_f64() / CREATION_BATCH as f64);
        sessions.clear();
    }
    median(&mut per_session)
}

fn session_creation(reps: usize) {
    for items in [SMALL_SET_ITEMS, BUILD_ITEMS] {
        let set = build_negsync_set(&data::generate_one(items, SINGLE_SET_SEED));
        Record::new("session_creation", "rust")
            .int("items", items as u64)
            .float("seconds_per_session", creation_seconds(&set, reps))
            .print();
    }
}

/// S5 memory: the set alone, then 100 sessions over it, each having sent its first message.
fn session_memory() {
    let before_set = resident_bytes();
    let side = data::generate_one(SESSIONS_SET_ITEMS, SINGLE_SET_SEED);
    let set = build_negsync_set(&side);
    drop(side);
    let with_set = resident_bytes();
    let mut creation = Vec::with_capacity(SESSIONS);
    let mut sessions = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let started = Instant::now();
        let session = Session::new(set.snapshot(), 0).expect("valid limit");
        creation.push(started.elapsed().as_secs_f64());
        sessions.push(session);
    }
    let with_sessions = resident_bytes();
    let first_messages: Vec<Vec<u8>> = sessions
        .iter_mut()
        .map(|session| session.initiate().expect("first message"))
        .collect();
    let with_initiated = resident_bytes();
    Record::new("session_memory", "rust")
        .int("items", SESSIONS_SET_ITEMS as u64)
        .int("sessions", SESSIONS as u64)
        .int("set_bytes", with_set - before_set)
        .int("sessions_bytes", with_sessions - with_set)
        .int("initiated_bytes", with_initiated - with_set)
        .float("seconds_per_session", median(&mut creation))
        .print();
    black_box((sessions, first_messages, set));
}

/// S6: resident growth of one sealed 1,000,000-item set, divided by its items. The input arrays
/// are generated before the first reading and dropped before the second: they are large
/// allocations, returned to the kernel on free, so only the set remains in the difference.
fn resident(variant: &str) {
    let before = resident_bytes();
    let side = data::generate_one(BUILD_ITEMS, SINGLE_SET_SEED);
    let kept: Box<dyn std::any::Any> = match variant {
        "negsync" => Box::new(build_negsync_set(&side)),
        "negsync-insert" => {
            let set = ItemSet::new();
            for (timestamp, id) in side.items() {
                set.insert(timestamp, id.into()).expect("valid timestamp");
            }
            black_box(set.snapshot());
            Box::new(set)
        }
        "crate" => Box::new(build_crate_storage(&side)),
        _ => {
            eprintln!("{USAGE}");
            exit(2)
        }
    };
    drop(side);
    let after = resident_bytes();
    Record::new("resident", variant)
        .int("items", BUILD_ITEMS as u64)
        .int("bytes", after.saturating_sub(before))
        .float(
            "bytes_per_item",
            after.saturating_sub(before) as f64 / BUILD_ITEMS as f64,
        )
        .print();
    black_box(kept);
}

/// One exchange of one variant, for `valgrind --tool=callgrind --toggle-collect='*run_negsync*'`
/// (or `*run_crate*`): the sets are built outside the collected function.
fn profile(file: &Path, limit: u64, variant: &str) {
    let pair = data::read(file).expect("reading the bench data file");
    let outcome = match variant {
        "crate" => {
            let (a, b) = (build_crate_storage(&pair.a), build_crate_storage(&pair.b));
            run_crate(&a, &b, limit)
        }
        "negsync" => {
            let (a, b) = (build_negsync_set(&pair.a), build_negsync_set(&pair.b));
            run_negsync(&a, &b, limit)
        }
        _ => {
            eprintln!("{USAGE}");
            exit(2)
        }
    };
    exchange_record(variant, file, limit, &outcome).print();
}

/// Radio frames: rounds, bytes and time of one exchange per limit (each the median of 5).
fn radio(limits: impl Iterator<Item = u64>) {
    let pair = data::generate(RADIO);
    let (a, b) = (build_negsync_set(&pair.a), build_negsync_set(&pair.b));
    for limit in limits {
        let mut outcomes: Vec<Outcome> = (0..5).map(|_| run_negsync(&a, &b, limit)).collect();
        outcomes.sort_by(|x, y| x.seconds.total_cmp(&y.seconds));
        let outcome = &outcomes[outcomes.len() / 2];
        outcome_record(Record::new("radio", "rust"), limit, outcome).print();
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Runs this program again with a subcommand and returns its JSON lines: memory is only measured
/// in a fresh process.
fn run_self(args: &[&str]) -> String {
    let exe = env::current_exe().expect("own path");
    let output = Command::new(exe).args(args).output().expect("start self");
    assert!(output.status.success(), "suite {args:?} failed");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A number from one JSON line of [`run_self`]'s output (our own, flat format).
fn field(json: &str, key: &str) -> f64 {
    let start = json.find(&format!("\"{key}\":")).expect("key present") + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].parse().expect("a number")
}

/// What `cargo bench` prints: the Rust faces only (baseline and negsync), medians of a few runs.
/// The full suite with C, Python, targets, JSON and plot is `make bench`.
fn quick_suite() {
    println!("negsync quick bench (Rust only; `make bench` runs the full suite with C and Python)");
    println!(
        "{:<34} {:>12} {:>12} {:>7} {:>7} {:>12}",
        "exchange", "crate ms", "negsync ms", "ratio", "trips", "bytes"
    );
    let large = data::generate(LARGE);
    let small = data::generate(SMALL);
    for (name, pair, limit, reps) in [
        ("S1 1M/side, 10k diffs, no limit", &large, 0, 5),
        ("S2 same, frame limit 60,000", &large, 60_000, 1),
        ("S3 10k/side, 10 diffs, no limit", &small, 0, 101),
    ] {
        let (crate_a, crate_b) = (build_crate_storage(&pair.a), build_crate_storage(&pair.b));
        let (negsync_a, negsync_b) = (build_negsync_set(&pair.a), build_negsync_set(&pair.b));
        let (mut crate_seconds, mut negsync_seconds) = (Vec::new(), Vec::new());
        let mut last = None;
        for rep in 0..reps {
            let first_crate = rep % 2 == 0;
            for turn in 0..2 {
                if (turn == 0) == first_crate {
                    crate_seconds.push(run_crate(&crate_a, &crate_b, limit).seconds);
                } else {
                    let outcome = run_negsync(&negsync_a, &negsync_b, limit);
                    negsync_seconds.push(outcome.seconds);
                    last = Some(outcome);
                }
            }
        }
        let outcome = last.expect("at least one run");
        let (crate_median, negsync_median) =
            (median(&mut crate_seconds), median(&mut negsync_seconds));
        println!(
            "{name:<34} {:>12.3} {:>12.3} {:>7.3} {:>7} {:>12}",
            crate_median * 1e3,
            negsync_median * 1e3,
            negsync_median / crate_median,
            outcome.round_trips,
            outcome.bytes_to_responder + outcome.bytes_to_initiator,
        );
    }
    let side = &large.a;
    let mut build_seconds: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            black_box(build_negsync_set(side));
            started.elapsed().as_secs_f64()
        })
        .collect();
    drop(large);
    println!(
        "S4 insert_many + snapshot, 1M items: {:.1} ms",
        median(&mut build_seconds) * 1e3
    );
    let creation = run_self(&["session-creation", "5"]);
    let per_size: Vec<f64> = creation
        .lines()
        .map(|line| field(line, "seconds_per_session"))
        .collect();
    println!(
        "S5 session creation: {:.0} ns on 1,000 items, {:.0} ns on 1,000,000",
        per_size[0] * 1e9,
        per_size[1] * 1e9
    );
    let sessions = run_self(&["session-memory"]);
    println!(
        "S5 100 sessions over 100,000 items: set {:.2} MB, sessions +{:.1} kB",
        field(&sessions, "set_bytes") / 1e6,
        field(&sessions, "initiated_bytes") / 1e3
    );
    let resident = run_self(&["resident", "negsync"]);
    println!(
        "S6 sealed 1M-item set: {:.1} resident bytes per item",
        field(&resident, "bytes_per_item")
    );
}
