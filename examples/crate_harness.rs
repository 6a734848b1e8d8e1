//! The reference side of the interoperability tests: the `negentropy` crate on its own (no negsync
//! code at all), driven over stdin/stdout in the same line protocol as
//! `bindings/c/examples/harness.c`. tests/interop/ runs negsync's harnesses against this one.
//!
//! Build: `cargo build --release --example crate_harness` (writes
//! `target/release/examples/crate_harness`).
//!
//! Input, one command per LF-terminated line: `item,<timestamp>,<64 hex>`, `seal`, `initiate`,
//! `msg,<hex>`; empty lines are ignored. The environment variable FRAMESIZELIMIT (decimal; unset,
//! empty or 0 for none) bounds every message this side sends. The crate reports have/need IDs per
//! round, so the initiator prints what that round found (with frame limits an ID may come twice).
//! Any error: one line on stderr, exit status 1, nothing more on stdout.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use negentropy::{Id, Negentropy, NegentropyStorageVector};

type Engine = Negentropy<'static, NegentropyStorageVector>;

/// Where the harness is in its life: collecting items, then running one session.
enum Phase {
    Collecting(NegentropyStorageVector),
    Sealed(Box<Engine>),
}

struct Harness {
    phase: Phase,
    frame_size_limit: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crate_harness: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let frame_size_limit = match std::env::var("FRAMESIZELIMIT") {
        Ok(text) if text.is_empty() => 0,
        Ok(text) => parse_u64(&text)
            .ok_or_else(|| format!("FRAMESIZELIMIT={text} is not a decimal number"))?,
        Err(std::env::VarError::NotPresent) => 0,
        Err(error) => return Err(format!("FRAMESIZELIMIT: {error}")),
    };
    let mut harness = Harness {
        phase: Phase::Collecting(NegentropyStorageVector::new()),
        frame_size_limit,
    };
    let stdin = io::stdin().lock();
    let mut stdout = BufWriter::new(io::stdout().lock());
    for (index, line) in stdin.split(b'\n').enumerate() {
        let line = line.map_err(|error| format!("cannot read stdin: {error}"))?;
        let line = std::str::from_utf8(&line)
            .map_err(|_| format!("input line {}: not UTF-8", index + 1))?;
        // Each line's output is assembled first, so that a failing line prints nothing.
        let output = harness
            .run_line(line)
            .map_err(|error| format!("input line {}: {error}", index + 1))?;
        if !output.is_empty() {
            stdout
                .write_all(output.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|error| format!("cannot write to stdout: {error}"))?;
        }
    }
    Ok(())
}

impl Harness {
    fn run_line(&mut self, line: &str) -> Result<String, String> {
        if line.is_empty() {
            return Ok(String::new());
        }
        let fields: Vec<&str> = line.split(',').collect();
        match fields.as_slice() {
            ["item", timestamp, id] => self.item(timestamp, id),
            ["seal"] => self.seal(),
            ["initiate"] => self.initiate(),
            ["msg", hex] => self.message(hex),
            _ => Err(format!("not a command: {line:?}")),
        }
    }

    fn item(&mut self, timestamp: &str, id_hex: &str) -> Result<String, String> {
        let Phase::Collecting(storage) = &mut self.phase else {
            return Err("item after seal".into());
        };
        let timestamp = parse_u64(timestamp).ok_or("timestamp is not a decimal u64")?;
        let id: [u8; 32] = decode_hex(id_hex)?
            .try_into()
            .map_err(|_| "an ID is 64 hex digits")?;
        storage
            .insert(timestamp, Id::from_byte_array(id))
            .map_err(|error| format!("insert: {error}"))?;
        Ok(String::new())
    }

    fn seal(&mut self) -> Result<String, String> {
        let Phase::Collecting(storage) = &mut self.phase else {
            return Err("seal twice".into());
        };
        let mut storage = std::mem::take(storage);
        storage.seal().map_err(|error| format!("seal: {error}"))?;
        let engine = Negentropy::owned(storage, self.frame_size_limit)
            .map_err(|error| format!("FRAMESIZELIMIT {}: {error}", self.frame_size_limit))?;
        self.phase = Phase::Sealed(Box::new(engine));
        Ok(String::new())
    }

    fn engine(&mut self) -> Result<&mut Engine, String> {
        match &mut self.phase {
            Phase::Sealed(engine) => Ok(engine),
            Phase::Collecting(_) => Err("the set is not sealed yet".into()),
        }
    }

    fn initiate(&mut self) -> Result<String, String> {
        let message = self
            .engine()?
            .initiate()
            .map_err(|error| format!("initiate: {error}"))?;
        self.check_frame_limit(&message)?;
        Ok(format!("msg,{}\n", encode_hex(&message)))
    }

    fn message(&mut self, hex: &str) -> Result<String, String> {
        let message = decode_hex(hex)?;
        let engine = self.engine()?;
        if !engine.is_initiator() {
            let reply = engine
                .reconcile(&message)
                .map_err(|error| format!("reconcile: {error}"))?;
            self.check_frame_limit(&reply)?;
            return Ok(format!("msg,{}\n", encode_hex(&reply)));
        }
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let next = engine
            .reconcile_with_ids(&message, &mut have, &mut need)
            .map_err(|error| format!("reconcile: {error}"))?;
        if let Some(next) = &next {
            self.check_frame_limit(next)?;
        }
        let mut output = String::new();
        for (label, ids) in [("have", &have), ("need", &need)] {
            for id in ids {
                output.push_str(&format!("{label},{}\n", encode_hex(id.as_bytes())));
            }
        }
        match next {
            Some(next) => output.push_str(&format!("msg,{}\n", encode_hex(&next))),
            None => output.push_str("done\n"),
        }
        Ok(output)
    }

    fn check_frame_limit(&self, message: &[u8]) -> Result<(), String> {
        if self.frame_size_limit != 0 && message.len() as u64 > self.frame_size_limit {
            return Err(format!(
                "our message of {} bytes exceeds FRAMESIZELIMIT {}",
                message.len(),
                self.frame_size_limit
            ));
        }
        Ok(())
    }
}

/// Digits only: no sign, no spaces, no leading `+` (which `str::parse` would accept).
fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if hex.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", hex.len()));
    }
    let digit = |offset: usize| {
        char::from(hex.as_bytes()[offset])
            .to_digit(16)
            .ok_or_else(|| format!("not a hex digit at offset {offset}"))
    };
    (0..hex.len())
        .step_by(2)
        .map(|offset| Ok((digit(offset)? << 4 | digit(offset + 1)?) as u8))
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}
