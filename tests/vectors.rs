//! Transcript vectors: the exact bytes of every message of a few fixed exchanges, checked into
//! `tests/vectors/*.vec`, replayed through negsync's sessions (in both roles) and through the
//! `negentropy` crate on its own, so that a change to the bytes negsync puts on the wire never
//! goes unnoticed. tests/interop/ replays the same files through the C, Python and crate harnesses.
//!
//! The sets are defined in `DEFINITIONS` below; the files hold those sets, the limits, every
//! message and the initiator's result. After a deliberate change to the wire bytes (or to a
//! definition), regenerate the files and review the diff:
//!
//!     NEGSYNC_BLESS=1 cargo test --release --test vectors
//!
//! File format, one record per line (`#` starts a comment):
//!   `limits <initiator frame limit> <responder frame limit>`
//!   `initiator <timestamp> <id hex>` / `responder <timestamp> <id hex>`: the two sets, sorted
//!   `to_responder <hex>` / `to_initiator <hex>`: every message in order, starting with the
//!     initiator's first; the initiator sends nothing after the last `to_initiator`
//!   `have <id hex>` / `need <id hex>`: the initiator's result, sorted

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{difference, run_exchange};
use negentropy::{Negentropy, NegentropyStorageVector};
use negsync::{Id, Item, ItemSet, Session, id_for_key};

/// One fixed exchange: the initiator's set and limit, the responder's set and limit.
struct Definition {
    name: &'static str,
    /// Why this exchange is worth pinning down; written into the file.
    about: &'static str,
    initiator_limit: u64,
    responder_limit: u64,
    sets: fn() -> (Vec<Item>, Vec<Item>),
}

/// A deterministic ID that anyone can recompute: SHA-256 of `"<vector>/<n>"`.
fn numbered_id(vector: &str, n: u64) -> Id {
    id_for_key(format!("{vector}/{n}").as_bytes())
}

fn items(vector: &str, numbers: impl Iterator<Item = u64>, timestamp: fn(u64) -> u64) -> Vec<Item> {
    numbers
        .map(|n| Item {
            timestamp: timestamp(n),
            id: numbered_id(vector, n),
        })
        .collect()
}

const DEFINITIONS: &[Definition] = &[
    Definition {
        name: "empty",
        about: "both sets empty: one round trip of empty ID lists",
        initiator_limit: 0,
        responder_limit: 0,
        sets: || (Vec::new(), Vec::new()),
    },
    Definition {
        name: "empty_initiator",
        about: "the initiator holds nothing and needs all 50 of the responder's items",
        initiator_limit: 0,
        responder_limit: 0,
        sets: || (Vec::new(), items("empty_initiator", 0..50, |n| 1_000 + n)),
    },
    Definition {
        name: "empty_responder",
        about: "the responder holds nothing; the initiator has all 40 items the peer lacks",
        initiator_limit: 0,
        responder_limit: 0,
        sets: || {
            (
                items("empty_responder", 0..40, |n| 1_000 + 3 * n),
                Vec::new(),
            )
        },
    },
    Definition {
        name: "identical",
        about: "200 identical items: 16 matching fingerprints, done in one round trip",
        initiator_limit: 0,
        responder_limit: 0,
        sets: || {
            let both = items("identical", 0..200, |n| 1_700_000_000 + n * 60);
            (both.clone(), both)
        },
    },
    Definition {
        name: "shared_timestamps",
        about: "300 shared items on only 7 timestamps, 4 only on the initiator, 6 only on \
                the responder: bounds need ID prefixes to split a timestamp",
        initiator_limit: 0,
        responder_limit: 0,
        sets: || {
            let timestamp = |n: u64| 500 + n % 7;
            let mut initiator = items("shared_timestamps", 0..300, timestamp);
            let mut responder = initiator.clone();
            initiator.extend(items("shared_timestamps", 1_000..1_004, timestamp));
            responder.extend(items("shared_timestamps", 2_000..2_006, timestamp));
            (initiator, responder)
        },
    },
    Definition {
        name: "frame_cut_empty_tail",
        about: "responder 122 items at a 4096-byte limit, initiator 5 of them: the crate cuts its \
                reply and appends an empty range at infinity behind the one ending there",
        initiator_limit: 0,
        responder_limit: 4096,
        sets: || {
            let responder = items("frame_cut_empty_tail", 0..122, |n| 1_000 + n);
            (responder[..5].to_vec(), responder)
        },
    },
    Definition {
        name: "finish_after_fingerprint",
        about: "responder timestamps 1..=131 at a 4096-byte limit, initiator 101..=131: the \
                initiator finishes after a reply that still holds a fingerprint range",
        initiator_limit: 0,
        responder_limit: 4096,
        sets: || {
            (
                items("finish_after_fingerprint", 101..132, |n| n),
                items("finish_after_fingerprint", 1..132, |n| n),
            )
        },
    },
    Definition {
        name: "both_limited",
        about: "600 items a side, 300 shared, both sides at a 4096-byte limit: both sides cut \
                their messages and the exchange takes several round trips",
        initiator_limit: 4096,
        responder_limit: 4096,
        sets: || {
            let timestamp = |n: u64| 10_000 + n / 2;
            let mut initiator = items("both_limited", 0..300, timestamp);
            let mut responder = initiator.clone();
            initiator.extend(
                items("both_limited", 300..900, timestamp)
                    .into_iter()
                    .step_by(2),
            );
            responder.extend(
                items("both_limited", 301..901, timestamp)
                    .into_iter()
                    .step_by(2),
            );
            (initiator, responder)
        },
    },
];

/// Who sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sender {
    Initiator,
    Responder,
}

/// A vector as read from (or about to be written to) its file.
#[derive(Debug, PartialEq, Eq)]
struct Vector {
    name: String,
    initiator_limit: u64,
    responder_limit: u64,
    initiator: BTreeSet<Item>,
    responder: BTreeSet<Item>,
    /// Every message in order; even indices come from the initiator.
    messages: Vec<Vec<u8>>,
    have: BTreeSet<Id>,
    need: BTreeSet<Id>,
}

impl Vector {
    fn sender(index: usize) -> Sender {
        if index % 2 == 0 {
            Sender::Initiator
        } else {
            Sender::Responder
        }
    }

    fn limit_of(&self, sender: Sender) -> u64 {
        match sender {
            Sender::Initiator => self.initiator_limit,
            Sender::Responder => self.responder_limit,
        }
    }
}

fn vector_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn path_of(name: &str) -> PathBuf {
    vector_dir().join(format!("{name}.vec"))
}

/// Runs a definition's exchange through negsync and records it.
fn record(definition: &Definition) -> Vector {
    let (initiator, responder) = (definition.sets)();
    let (initiator, responder): (BTreeSet<Item>, BTreeSet<Item>) = (
        initiator.into_iter().collect(),
        responder.into_iter().collect(),
    );
    let exchange = run_exchange(
        common::set_of(&initiator).snapshot(),
        common::set_of(&responder).snapshot(),
        definition.initiator_limit,
        definition.responder_limit,
    );
    Vector {
        name: definition.name.to_string(),
        initiator_limit: definition.initiator_limit,
        responder_limit: definition.responder_limit,
        initiator,
        responder,
        messages: exchange.transcript,
        have: exchange.have.into_iter().collect(),
        need: exchange.need.into_iter().collect(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn unhex(text: &str, context: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "{context}: odd number of hex digits");
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .unwrap_or_else(|_| panic!("{context}: not hex: {:?}", &text[i..i + 2]))
        })
        .collect()
}

fn render(vector: &Vector, about: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Negentropy V1 transcript vector `{}`, written by\n\
         #   NEGSYNC_BLESS=1 cargo test --release --test vectors\n\
         # from the definitions in tests/vectors.rs. Do not edit by hand.\n\
         # {about}",
        vector.name
    );
    let _ = writeln!(
        text,
        "limits {} {}",
        vector.initiator_limit, vector.responder_limit
    );
    for (label, set) in [
        ("initiator", &vector.initiator),
        ("responder", &vector.responder),
    ] {
        for item in set {
            let _ = writeln!(text, "{label} {} {}", item.timestamp, item.id);
        }
    }
    for (index, message) in vector.messages.iter().enumerate() {
        let label = match Vector::sender(index) {
            Sender::Initiator => "to_responder",
            Sender::Responder => "to_initiator",
        };
        let _ = writeln!(text, "{label} {}", hex(message));
    }
    for (label, ids) in [("have", &vector.have), ("need", &vector.need)] {
        for id in ids {
            let _ = writeln!(text, "{label} {id}");
        }
    }
    text
}

fn parse(name: &str, text: &str) -> Vector {
    let mut vector = Vector {
        name: name.to_string(),
        initiator_limit: 0,
        responder_limit: 0,
        initiator: BTreeSet::new(),
        responder: BTreeSet::new(),
        messages: Vec::new(),
        have: BTreeSet::new(),
        need: BTreeSet::new(),
    };
    let mut saw_limits = false;
    for (number, line) in text.lines().enumerate() {
        let context = format!("{name}.vec line {}", number + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let id = |text: &str| {
            Id::from_slice(&unhex(text, &context))
                .unwrap_or_else(|_| panic!("{context}: not an ID"))
        };
        let number = |text: &str| -> u64 {
            text.parse()
                .unwrap_or_else(|_| panic!("{context}: not a number"))
        };
        match fields.as_slice() {
            ["limits", initiator, responder] => {
                vector.initiator_limit = number(initiator);
                vector.responder_limit = number(responder);
                saw_limits = true;
            }
            ["initiator", timestamp, hex_id] => {
                vector
                    .initiator
                    .insert(Item::new(number(timestamp), id(hex_id)).unwrap());
            }
            ["responder", timestamp, hex_id] => {
                vector
                    .responder
                    .insert(Item::new(number(timestamp), id(hex_id)).unwrap());
            }
            [label @ ("to_responder" | "to_initiator"), message] => {
                let expected = match Vector::sender(vector.messages.len()) {
                    Sender::Initiator => "to_responder",
                    Sender::Responder => "to_initiator",
                };
                assert_eq!(*label, expected, "{context}: messages must alternate");
                vector.messages.push(unhex(message, &context));
            }
            ["have", hex_id] => {
                vector.have.insert(id(hex_id));
            }
            ["need", hex_id] => {
                vector.need.insert(id(hex_id));
            }
            _ => panic!("{context}: not a vector record: {line:?}"),
        }
    }
    assert!(saw_limits, "{name}.vec: no `limits` line");
    assert!(
        vector.messages.len() >= 2 && vector.messages.len() % 2 == 0,
        "{name}.vec: an exchange is pairs of messages, initiator first"
    );
    vector
}

/// The vectors on disk, rewritten first from `DEFINITIONS` when `NEGSYNC_BLESS` is set. Loaded
/// once, so that blessing never races with the tests reading the files.
fn vectors() -> &'static [Vector] {
    static VECTORS: OnceLock<Vec<Vector>> = OnceLock::new();
    VECTORS.get_or_init(|| {
        if std::env::var_os("NEGSYNC_BLESS").is_some() {
            std::fs::create_dir_all(vector_dir()).expect("create tests/vectors");
            for definition in DEFINITIONS {
                let text = render(&record(definition), definition.about);
                std::fs::write(path_of(definition.name), text).expect("write a vector");
            }
        }
        DEFINITIONS
            .iter()
            .map(|definition| {
                let path = path_of(definition.name);
                let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
                    panic!(
                        "{}: {error}; run  NEGSYNC_BLESS=1 cargo test --release --test vectors",
                        path.display()
                    )
                });
                parse(definition.name, &text)
            })
            .collect()
    })
}

#[test]
fn every_file_is_a_definition_and_holds_its_sets() {
    let vectors = vectors(); // first: with NEGSYNC_BLESS set, this writes the files
    let mut on_disk: Vec<String> = std::fs::read_dir(vector_dir())
        .expect("tests/vectors exists")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".vec"))
        .collect();
    on_disk.sort();
    let mut defined: Vec<String> = DEFINITIONS
        .iter()
        .map(|definition| format!("{}.vec", definition.name))
        .collect();
    defined.sort();
    assert_eq!(
        on_disk, defined,
        "a vector file without a definition, or the reverse"
    );

    for (definition, vector) in DEFINITIONS.iter().zip(vectors) {
        let (initiator, responder) = (definition.sets)();
        let stale = "the file no longer matches its definition: run  NEGSYNC_BLESS=1 cargo test \
                     --release --test vectors  and review the diff";
        assert_eq!(
            vector.initiator,
            initiator.into_iter().collect(),
            "{}: initiator set; {stale}",
            vector.name
        );
        assert_eq!(
            vector.responder,
            responder.into_iter().collect(),
            "{}: responder set; {stale}",
            vector.name
        );
        assert_eq!(
            (vector.initiator_limit, vector.responder_limit),
            (definition.initiator_limit, definition.responder_limit),
            "{}: limits; {stale}",
            vector.name
        );
    }
}

#[test]
fn recorded_results_are_the_exact_differences_and_messages_respect_the_limits() {
    for vector in vectors() {
        assert_eq!(
            vector.have,
            difference(&vector.initiator, &vector.responder),
            "{}: have",
            vector.name
        );
        assert_eq!(
            vector.need,
            difference(&vector.responder, &vector.initiator),
            "{}: need",
            vector.name
        );
        for (index, message) in vector.messages.iter().enumerate() {
            let limit = vector.limit_of(Vector::sender(index));
            assert!(
                limit == 0 || message.len() as u64 <= limit,
                "{}: message {index} of {} bytes exceeds its sender's limit {limit}",
                vector.name,
                message.len()
            );
        }
    }
}

fn item_set(items: &BTreeSet<Item>) -> ItemSet {
    common::set_of(items)
}

#[test]
fn negsync_as_initiator_sends_exactly_the_recorded_bytes() {
    for vector in vectors() {
        let name = &vector.name;
        let mut session = Session::new(
            item_set(&vector.initiator).snapshot(),
            vector.initiator_limit,
        )
        .expect("session");
        assert_eq!(
            hex(&session.initiate().expect("initiate")),
            hex(&vector.messages[0]),
            "{name}: first message"
        );
        for index in (1..vector.messages.len()).step_by(2) {
            let step = session
                .reconcile(&vector.messages[index])
                .unwrap_or_else(|error| panic!("{name}: message {index}: {error}"));
            let expected = vector.messages.get(index + 1);
            assert_eq!(
                step.reply.as_deref().map(hex),
                expected.map(|message| hex(message)),
                "{name}: reply to message {index}"
            );
            assert_eq!(
                step.complete,
                expected.is_none(),
                "{name}: complete after {index}"
            );
        }
        let have: BTreeSet<Id> = session.have_ids().unwrap().iter().copied().collect();
        let need: BTreeSet<Id> = session.need_ids().unwrap().iter().copied().collect();
        assert_eq!(
            (have, need),
            (vector.have.clone(), vector.need.clone()),
            "{name}: result"
        );
    }
}

#[test]
fn negsync_as_responder_sends_exactly_the_recorded_bytes() {
    for vector in vectors() {
        let name = &vector.name;
        let mut session = Session::new(
            item_set(&vector.responder).snapshot(),
            vector.responder_limit,
        )
        .expect("session");
        let last = vector.messages.len() - 2;
        for index in (0..vector.messages.len()).step_by(2) {
            let step = session
                .reconcile(&vector.messages[index])
                .unwrap_or_else(|error| panic!("{name}: message {index}: {error}"));
            let reply = step.reply.expect("a responder always replies");
            assert_eq!(
                hex(&reply),
                hex(&vector.messages[index + 1]),
                "{name}: reply to message {index}"
            );
            // Complete exactly when the reply leaves the initiator nothing to ask.
            let fingerprints = negsync::wire::validate(&reply).unwrap().fingerprint_ranges;
            assert_eq!(
                step.complete,
                fingerprints == 0,
                "{name}: complete after {index}"
            );
            assert!(
                index == last || !step.complete,
                "{name}: complete too early"
            );
        }
    }
}

fn crate_engine(
    items: &BTreeSet<Item>,
    limit: u64,
) -> Negentropy<'static, NegentropyStorageVector> {
    let mut storage = NegentropyStorageVector::new();
    for item in items {
        storage
            .insert(item.timestamp, negentropy::Id::from_byte_array(item.id.0))
            .unwrap();
    }
    storage.seal().unwrap();
    Negentropy::owned(storage, limit).unwrap()
}

/// The vectors are the crate's own bytes, not only negsync's: the reference engine, given the
/// same sets, sends every recorded message in both roles.
#[test]
fn the_negentropy_crate_sends_exactly_the_recorded_bytes() {
    for vector in vectors() {
        let name = &vector.name;
        let mut initiator = crate_engine(&vector.initiator, vector.initiator_limit);
        let mut responder = crate_engine(&vector.responder, vector.responder_limit);
        assert_eq!(
            hex(&initiator.initiate().unwrap()),
            hex(&vector.messages[0]),
            "{name}: first message"
        );
        let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
        for index in (0..vector.messages.len()).step_by(2) {
            let reply = responder.reconcile(&vector.messages[index]).unwrap();
            assert_eq!(
                hex(&reply),
                hex(&vector.messages[index + 1]),
                "{name}: responder's reply to message {index}"
            );
            let (mut round_have, mut round_need) = (Vec::new(), Vec::new());
            let next = initiator
                .reconcile_with_ids(
                    &vector.messages[index + 1],
                    &mut round_have,
                    &mut round_need,
                )
                .unwrap();
            assert_eq!(
                next.as_deref().map(hex),
                vector.messages.get(index + 2).map(|message| hex(message)),
                "{name}: initiator's reply to message {}",
                index + 1
            );
            have.extend(round_have.iter().map(|id| Id(id.to_bytes())));
            need.extend(round_need.iter().map(|id| Id(id.to_bytes())));
        }
        assert_eq!(
            (have, need),
            (vector.have.clone(), vector.need.clone()),
            "{name}: result"
        );
    }
}

/// The frame-cut vectors still show what they are named for; otherwise a change in the engine
/// could quietly turn them into plain exchanges.
#[test]
fn the_frame_cut_vectors_still_exercise_their_cases() {
    let find = |name: &str| vectors().iter().find(|v| v.name == name).unwrap();

    // `00 00 01` + the fingerprint of nothing, behind a range that already ends at infinity.
    let empty_tail = unhex("0000017f9c9e31ac8256ca2f258583df262dbc", "empty tail");
    let tail = find("frame_cut_empty_tail");
    assert!(
        tail.messages
            .iter()
            .skip(1)
            .step_by(2)
            .any(|m| m.ends_with(&empty_tail)),
        "frame_cut_empty_tail: no reply ends with an empty range at infinity"
    );

    let finish = find("finish_after_fingerprint");
    let last_reply = finish.messages.last().unwrap();
    assert!(
        negsync::wire::validate(last_reply)
            .unwrap()
            .fingerprint_ranges
            > 0,
        "finish_after_fingerprint: the last reply holds no fingerprint range"
    );

    let both = find("both_limited");
    let near_limit = |index: usize| {
        both.messages[index].len() as u64 > both.limit_of(Vector::sender(index)) - 300
    };
    assert!(
        (0..both.messages.len()).any(|i| Vector::sender(i) == Sender::Initiator && near_limit(i))
            && (0..both.messages.len())
                .any(|i| Vector::sender(i) == Sender::Responder && near_limit(i)),
        "both_limited: not both sides filled a frame"
    );

    let identical = find("identical");
    assert_eq!(identical.messages.len(), 2, "identical: one round trip");
}
