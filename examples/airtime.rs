//! What a sync costs on air: real exchanges through negsync's Rust API at radio frame limits,
//! and the LoRa time on air of every frame sent, by the Semtech formula.
//!
//! ```sh
//! cargo run --release --example airtime                         # print the tables
//! cargo run --release --example airtime -- --write docs/firmware.md  # refresh them in the docs
//! cargo run --release --example airtime -- --check docs/firmware.md  # fail if the docs differ
//! ```
//!
//! `make airtime` writes, `make test` checks: the table in docs/firmware.md is this program's
//! output, never typed in. Every exchange must find exactly the differences it was built with,
//! or the program fails.

use std::collections::BTreeSet;
use std::process::ExitCode;

use negsync::{Id, ItemSet, Session};

#[path = "../tests/common/splitmix64.rs"]
mod splitmix64;
use splitmix64::SplitMix64;

/// Items a side, differences, frame limits: the issue's grid, plus the two payload sizes radio
/// users meet most (Meshtastic's 233-byte LoRa payload, a 244-byte BLE notification).
const SET_SIZES: [usize; 3] = [100, 1_000, 10_000];
const DIFFERENCES: [usize; 3] = [1, 10, 100];
const FRAME_LIMITS: [u64; 6] = [128, 200, 233, 244, 512, 4_096];

/// The most a LoRa packet carries (the SX127x/SX126x payload length field is one byte).
const LORA_MAX_PAYLOAD: usize = 255;

const BEGIN_MARKER: &str = "<!-- airtime:begin (cargo run --release --example airtime) -->";
const END_MARKER: &str = "<!-- airtime:end -->";

/// LoRa modem settings for the time-on-air formula (Semtech AN1200.13, SX1276 datasheet 4.1.1.7).
struct LoRa {
    spreading_factor: u32,
    bandwidth_hz: f64,
    /// 1 for coding rate 4/5 (the formula's CR).
    coding_rate: u32,
    preamble_symbols: u32,
    explicit_header: bool,
    crc: bool,
}

impl LoRa {
    const fn at(spreading_factor: u32) -> LoRa {
        LoRa {
            spreading_factor,
            bandwidth_hz: 125_000.0,
            coding_rate: 1,
            preamble_symbols: 8,
            explicit_header: true,
            crc: true,
        }
    }

    /// Low data rate optimisation: required when a symbol lasts more than 16 ms (SF11 and SF12
    /// at 125 kHz).
    fn low_data_rate_optimize(&self) -> bool {
        self.symbol_seconds() > 0.016
    }

    fn symbol_seconds(&self) -> f64 {
        f64::from(1u32 << self.spreading_factor) / self.bandwidth_hz
    }

    /// Seconds on air for one packet of `payload` bytes.
    fn time_on_air(&self, payload: usize) -> f64 {
        let sf = i64::from(self.spreading_factor);
        let header = i64::from(!self.explicit_header);
        let crc = i64::from(self.crc);
        let de = i64::from(self.low_data_rate_optimize());
        let numerator = 8 * payload as i64 - 4 * sf + 28 + 16 * crc - 20 * header;
        let denominator = 4 * (sf - 2 * de);
        let blocks = if numerator > 0 {
            (numerator + denominator - 1) / denominator
        } else {
            0
        };
        let payload_symbols = 8 + blocks * i64::from(self.coding_rate + 4);
        let preamble_symbols = f64::from(self.preamble_symbols) + 4.25;
        (preamble_symbols + payload_symbols as f64) * self.symbol_seconds()
    }

    /// Seconds on air for one frame: one packet, or several of at most 255 bytes.
    fn frame_time_on_air(&self, frame: usize) -> f64 {
        packets(frame)
            .map(|payload| self.time_on_air(payload))
            .sum()
    }
}

/// The LoRa packets one frame takes: full 255-byte packets, then the rest.
fn packets(frame: usize) -> impl Iterator<Item = usize> {
    let full = frame / LORA_MAX_PAYLOAD;
    let rest = frame % LORA_MAX_PAYLOAD;
    std::iter::repeat_n(LORA_MAX_PAYLOAD, full).chain((rest > 0).then_some(rest))
}

/// One exchange's frames, in the order they were sent.
struct Exchange {
    /// Initiator's messages, each answered by the responder.
    round_trips: usize,
    frames: Vec<usize>,
}

fn random_id(rng: &mut SplitMix64) -> Id {
    let mut id = [0u8; 32];
    for chunk in id.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    Id(id)
}

/// Two sets of `items` a side (the initiator's; the responder's is `differences / 2` smaller
/// when odd) that differ in `differences` items, half on each side, with document times of the
/// last thirty days in seconds.
fn sets(
    items: usize,
    differences: usize,
    seed: u64,
) -> (ItemSet, ItemSet, BTreeSet<Id>, BTreeSet<Id>) {
    let mut rng = SplitMix64::new(seed);
    let mut item = || {
        (
            1_764_000_000 + rng.next_u64() % (30 * 86_400),
            random_id(&mut rng),
        )
    };
    let only_initiator = differences.div_ceil(2);
    let only_responder = differences / 2;
    let (initiator, responder) = (ItemSet::new(), ItemSet::new());
    let (mut have, mut need) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..items - only_initiator {
        let (timestamp, id) = item();
        initiator.insert(timestamp, id).expect("valid item");
        responder.insert(timestamp, id).expect("valid item");
    }
    for _ in 0..only_initiator {
        let (timestamp, id) = item();
        initiator.insert(timestamp, id).expect("valid item");
        have.insert(id);
    }
    for _ in 0..only_responder {
        let (timestamp, id) = item();
        responder.insert(timestamp, id).expect("valid item");
        need.insert(id);
    }
    (initiator, responder, have, need)
}

/// Runs one exchange with both sides at `limit`, checking what the initiator finds.
fn exchange(items: usize, differences: usize, limit: u64) -> Result<Exchange, String> {
    let seed = (items as u64) << 20 | differences as u64;
    let (initiator_set, responder_set, have, need) = sets(items, differences, seed);
    let mut initiator = Session::new(initiator_set.snapshot(), limit).map_err(|e| e.to_string())?;
    let mut responder = Session::new(responder_set.snapshot(), limit).map_err(|e| e.to_string())?;
    let mut frames = Vec::new();
    let mut message = initiator.initiate().map_err(|e| e.to_string())?;
    let mut round_trips = 0;
    loop {
        round_trips += 1;
        frames.push(message.len());
        let answer = responder.reconcile(&message).map_err(|e| e.to_string())?;
        let Some(reply) = answer.reply else {
            return Err("the responder did not answer".into());
        };
        frames.push(reply.len());
        let step = initiator.reconcile(&reply).map_err(|e| e.to_string())?;
        if step.complete {
            break;
        }
        message = step
            .reply
            .ok_or("the initiator neither finished nor answered")?;
    }
    let found = |ids: &[Id]| ids.iter().copied().collect::<BTreeSet<Id>>();
    let (found_have, found_need) = (
        found(initiator.have_ids().map_err(|e| e.to_string())?),
        found(initiator.need_ids().map_err(|e| e.to_string())?),
    );
    if found_have != have || found_need != need {
        return Err(format!(
            "{items} a side, {differences} differences, limit {limit}: found {} have and {} need, \
             built with {} and {}",
            found_have.len(),
            found_need.len(),
            have.len(),
            need.len()
        ));
    }
    Ok(Exchange {
        round_trips,
        frames,
    })
}

fn format_seconds(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.2} s")
    } else if seconds < 600.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

fn with_commas(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn tables() -> Result<String, String> {
    let (sf7, sf12) = (LoRa::at(7), LoRa::at(12));
    let mut out = String::new();
    out.push_str(
        "LoRa at 125 kHz, coding rate 4/5, 8-symbol preamble, explicit header, CRC on, low data \
         rate optimisation at SF12 (as the SX127x requires there); each frame its own packet, a \
         frame over 255 bytes split into 255-byte packets. Time on air only: no duty-cycle \
         waits, no acknowledgements, no transport header. Both sides use the same frame limit; \
         the initiator holds half the differences (rounded up), the responder the rest.\n",
    );
    for items in SET_SIZES {
        out.push_str(&format!(
            "\n**{} items a side**\n\n| differences | frame limit | round trips | frames | \
             LoRa packets | bytes | SF7 | SF12 |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            with_commas(items)
        ));
        for differences in DIFFERENCES {
            for limit in FRAME_LIMITS {
                let exchange = exchange(items, differences, limit)?;
                let bytes: usize = exchange.frames.iter().sum();
                let packets: usize = exchange.frames.iter().map(|&f| packets(f).count()).sum();
                let on_air = |lora: &LoRa| -> f64 {
                    exchange
                        .frames
                        .iter()
                        .map(|&f| lora.frame_time_on_air(f))
                        .sum()
                };
                out.push_str(&format!(
                    "| {differences} | {} | {} | {} | {} | {} | {} | {} |\n",
                    with_commas(limit as usize),
                    exchange.round_trips,
                    exchange.frames.len(),
                    with_commas(packets),
                    with_commas(bytes),
                    format_seconds(on_air(&sf7)),
                    format_seconds(on_air(&sf12)),
                ));
            }
        }
    }
    Ok(out)
}

/// `document` with the text between the markers replaced by `tables`.
fn replaced(document: &str, tables: &str) -> Result<String, String> {
    let begin = document
        .find(BEGIN_MARKER)
        .ok_or_else(|| format!("no line {BEGIN_MARKER}"))?;
    let end = document
        .find(END_MARKER)
        .filter(|&end| end > begin)
        .ok_or_else(|| format!("no line {END_MARKER} after the begin marker"))?;
    Ok(format!(
        "{}{BEGIN_MARKER}\n{tables}{}",
        &document[..begin],
        &document[end..]
    ))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tables = tables()?;
    match args.as_slice() {
        [] => print!("{tables}"),
        [flag, path] if flag == "--write" || flag == "--check" => {
            let document =
                std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
            let updated = replaced(&document, &tables)?;
            if flag == "--write" {
                std::fs::write(path, updated).map_err(|e| format!("writing {path}: {e}"))?;
                println!("airtime: wrote the tables into {path}");
            } else if updated != document {
                return Err(format!(
                    "the airtime tables in {path} differ from what this program computes: run \
                     `make airtime` and commit the result"
                ));
            } else {
                println!("airtime: the tables in {path} are current");
            }
        }
        _ => {
            return Err("usage: airtime [--write FILE | --check FILE]".into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("airtime: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked out by hand from AN1200.13's formula for these settings (125 kHz, CR 4/5, preamble
    /// 8, explicit header, CRC on, LDRO at SF12): e.g. SF12, 10 bytes: 12.25 preamble symbols +
    /// 8 + ceil((80 - 48 + 28 + 16) / 40) * 5 = 18 payload symbols, at 32.768 ms a symbol.
    #[test]
    fn time_on_air_matches_the_semtech_calculator() {
        let close = |a: f64, b: f64| (a - b).abs() < 0.000_05;
        assert!(close(LoRa::at(7).time_on_air(10), 0.041_216));
        assert!(close(LoRa::at(7).time_on_air(255), 0.399_616));
        assert!(close(LoRa::at(12).time_on_air(10), 0.991_232));
        assert!(close(LoRa::at(12).time_on_air(255), 9.019_392));
    }

    #[test]
    fn frames_split_into_packets_of_255() {
        assert_eq!(packets(0).count(), 0);
        assert_eq!(packets(255).collect::<Vec<_>>(), [255]);
        assert_eq!(packets(512).collect::<Vec<_>>(), [255, 255, 2]);
    }
}
