#!/usr/bin/env python3
"""negsync's benchmark suite, whole (`make bench`): the `negentropy` crate used directly (a),
negsync's Rust API (b), its C ABI from C (c) and the Python package (d), on the same data, in one
run on one machine; then one table with every target, met or missed.

Fairness on a shared two-core machine: every variant builds the same sets from one data file;
each variant runs in turns with the others (rounds, each starting with a different variant), and
(a) and (b) also alternate inside their process; every figure is a median of many exchanges,
shown with its spread. Set building is timed on its own (S4), never inside an exchange.

Writes target/bench/results.json, docs/bench.md (the table, the machine, and the instruction
profile from `make bench-profile` when there is one) and, when matplotlib is installed,
docs/bench.png. Progress goes to stderr; the table to stdout. Standard library only.
"""

import collections
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import common
from common import (
    C_BENCH,
    DOCS_DIR,
    LARGE_FILE,
    OUT_DIR,
    PYTHON_BENCH,
    SMALL_FILE,
    log,
)

# The exchanges. Each round runs every variant once, in a rotated order; a process runs `reps`
# recorded exchanges after `warmups` unrecorded ones. About 2 minutes with a core free.
Exchange = collections.namedtuple(
    "Exchange", "key description data_file frame_limit differences rounds reps warmups"
)
EXCHANGES = [
    Exchange(
        "S1",
        "1,000,000 items a side, 10,000 differences, no frame limit",
        LARGE_FILE,
        frame_limit=0,
        differences=10_000,
        rounds=7,
        reps=3,
        warmups=1,
    ),
    Exchange(
        "S3",
        "10,000 items a side, 10 differences, no frame limit",
        SMALL_FILE,
        frame_limit=0,
        differences=10,
        rounds=7,
        reps=101,
        warmups=5,
    ),
    Exchange(
        "S2 60,000",
        "S1 with a 60,000-byte frame limit on both sides",
        LARGE_FILE,
        frame_limit=60_000,
        differences=10_000,
        rounds=3,
        reps=1,
        warmups=0,
    ),
    # Each of these exchanges takes 6 to 35 seconds (by load): two rounds keep the suite under 10
    # minutes on a busy machine.
    Exchange(
        "S2 4,096",
        "S1 with a 4,096-byte frame limit on both sides",
        LARGE_FILE,
        frame_limit=4_096,
        differences=10_000,
        rounds=2,
        reps=1,
        warmups=0,
    ),
]

# What each variant is, in the order the tables show them. "crate" and "rust" come from one
# process of the Rust bench, which alternates the two.
VARIANTS = {
    "crate": "(a) negentropy crate directly",
    "rust": "(b) negsync, Rust API",
    "c": "(c) negsync, C ABI from C",
    "python": "(d) negsync, Python package",
}
PROCESSES = ("rust", "c", "python")

BUILD_ROUNDS = 5
SESSION_PROCESSES = 3
RESIDENT_PROCESSES = 3


def exchange_command(process, suite, data_file, limit, reps, warmups):
    if process == "rust":
        return [suite, "exchange", data_file, limit, reps, warmups]
    if process == "c":
        return [C_BENCH, "exchange", data_file, limit, reps, warmups]
    return [sys.executable, PYTHON_BENCH, "exchange", data_file, limit, reps, warmups]


def rotated(items, by):
    by %= len(items)
    return items[by:] + items[:by]


def summarize(samples):
    """Median and spread of a list of seconds."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {
        "median_s": statistics.median(ordered),
        "min_s": ordered[0],
        "q1_s": quartiles[0],
        "q3_s": quartiles[2],
        "samples": len(ordered),
    }


def run_exchanges(suite):
    results = {}
    for key, description, data_file, limit, differences, rounds, reps, warmups in EXCHANGES:
        records = []
        started = time.monotonic()
        for round_number in range(rounds):
            for process in rotated(list(PROCESSES), round_number):
                log(f"bench: {key} round {round_number + 1}/{rounds}: {process}")
                records += common.run_records(
                    exchange_command(process, suite, data_file, limit, reps, warmups)
                )
        log(f"bench: {key} took {time.monotonic() - started:.0f} s")
        entry = {
            "description": description,
            "frame_limit": limit,
            "differences": differences,
            "variants": {},
        }
        for variant in VARIANTS:
            mine = [record for record in records if record["variant"] == variant]
            summary = summarize([record["seconds"] for record in mine])
            first = mine[0]
            # What an exchange sends and finds is deterministic: every run of a variant must agree.
            wire_fields = (
                "round_trips",
                "bytes_to_responder",
                "bytes_to_initiator",
                "have",
                "need",
                "have_checksum",
                "need_checksum",
            )
            summary["consistent"] = all(
                all(record[field] == first[field] for field in wire_fields) for record in mine
            )
            for field in wire_fields:
                summary[field] = first[field]
            entry["variants"][variant] = summary
        results[key] = entry
    return results


def run_builds(suite):
    """S4: a 1,000,000-item set built by insert_many + seal from Rust, C and Python, the crate's
    per-item insert + seal, and the per-item insert loops of C and Python."""
    records = []
    for round_number in range(BUILD_ROUNDS):
        # The suite's first build in a process is recorded apart (first_build): which variant
        # goes first alternates from round to round, so both have such samples.
        first = ("rust", "crate")[round_number % 2]
        steps = [
            ("rust", [suite, "build", LARGE_FILE, 2, first]),
            ("c", [C_BENCH, "build", LARGE_FILE, 2]),
            ("python", [sys.executable, PYTHON_BENCH, "build", LARGE_FILE, 2]),
            ("python loop", [sys.executable, PYTHON_BENCH, "build-loop", LARGE_FILE, 1]),
        ]
        for name, command in rotated(steps, round_number):
            log(f"bench: S4 round {round_number + 1}/{BUILD_ROUNDS}: {name}")
            records += common.run_records(command)
    builds = {}
    for record in records:
        builds.setdefault(f"{record['variant']} {record['method']}", []).append(record["seconds"])
    return {name: summarize(samples) for name, samples in builds.items()}


def run_sessions(suite):
    """S5: session creation time against set size, and the memory of 100 sessions over one set."""
    creation = {}
    memory = []
    for process in range(SESSION_PROCESSES):
        log(f"bench: S5 process {process + 1}/{SESSION_PROCESSES}")
        for record in common.run_records([suite, "session-creation", 21]):
            creation.setdefault(record["items"], []).append(record["seconds_per_session"])
        memory += common.run_records([suite, "session-memory"])
    return {
        "creation_s": {str(items): statistics.median(values) for items, values in creation.items()},
        "memory": {
            field: statistics.median(record[field] for record in memory)
            for field in (
                "items",
                "sessions",
                "set_bytes",
                "sessions_bytes",
                "initiated_bytes",
                "seconds_per_session",
            )
        },
    }


def run_resident(suite):
    """S6: resident bytes per item of a sealed 1,000,000-item set, each in a fresh process."""
    resident = {}
    for variant in ("negsync", "negsync-insert", "crate"):
        log(f"bench: S6 {variant}")
        values = [
            common.run_records([suite, "resident", variant])[0]["bytes_per_item"]
            for _ in range(RESIDENT_PROCESSES)
        ]
        resident[variant] = statistics.median(values)
    return resident


# Radio frames: negsync alone (no V1 implementation takes limits under 4,096), on 10,000 items a
# side with 10 only on each (benches/suite/data.rs, RADIO).
RADIO_LIMITS = (0, 4096, 1024, 512, 200, 128)
RADIO_ONLY = 10


def run_radio(suite):
    log("bench: radio frames")
    return common.run_records([suite, "radio", *RADIO_LIMITS])


def command_lines(command):
    try:
        return subprocess.run(
            command, stdout=subprocess.PIPE, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []


def machine():
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in command_lines(["lscpu"])
            if line.startswith("Model name:")
        ),
        "unknown",
    )
    with open("/proc/meminfo") as meminfo:
        kilobytes = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(kilobytes / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
        "rustc": (command_lines(["rustc", "--version"]) or ["unknown"])[0],
        "cc": (command_lines(["cc", "--version"]) or ["unknown"])[0],
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        # Which libnegsync.so (c) and (d) ran, to match against the instruction profile's.
        "library_sha256": hashlib.sha256(common.LIBRARY.read_bytes()).hexdigest(),
    }


def ratio(exchanges, key, variant, base, statistic="median_s"):
    return (
        exchanges[key]["variants"][variant][statistic] / exchanges[key]["variants"][base][statistic]
    )


def evaluate(results, profile=None):
    """Every target: what was measured, the limit, met or missed. With an instruction profile,
    a timed ratio's note also gives the same ratio in instructions (deterministic)."""
    exchanges = results["exchanges"]
    targets = []

    def instructions(key, variant, base):
        if profile is None or f"{key}|{variant}" not in profile["totals"]:
            return ""
        counted = profile["totals"][f"{key}|{variant}"] / profile["totals"][f"{key}|{base}"]
        return f"; in instructions {counted:.3f}"

    def add(name, measured, limit, note=""):
        targets.append(
            {
                "target": name,
                "measured": measured,
                "limit": limit,
                "met": measured <= limit,
                "note": note,
            }
        )

    # The engine's targets (issue "negsync's own Negentropy V1 engine"): negsync over the crate.
    for key, limit in (("S1", 0.30), ("S3", 0.50)):
        add(
            f"{key}: (b)/(a), Rust API over the crate",
            ratio(exchanges, key, "rust", "crate"),
            limit,
            f"ratio of minima {ratio(exchanges, key, 'rust', 'crate', 'min_s'):.3f}"
            + instructions(key, "rust", "crate"),
        )
    # Frame-limited exchanges are judged in instructions when a profile is at hand (the crate's
    # scans make them long and noisy to time), else by time.
    for key, limit in (("S2 60,000", 0.15), ("S2 4,096", 0.05)):
        counted = profile is not None and f"{key}|rust" in profile["totals"]
        measured = (
            profile["totals"][f"{key}|rust"] / profile["totals"][f"{key}|crate"]
            if counted
            else ratio(exchanges, key, "rust", "crate")
        )
        add(
            f"{key}: (b)/(a), Rust API over the crate, in {'instructions' if counted else 'time'}",
            measured,
            limit,
            f"in time {ratio(exchanges, key, 'rust', 'crate'):.3f}",
        )
    for key in ("S1", "S3"):
        add(
            f"{key}: (c)/(b), C ABI over the Rust API",
            ratio(exchanges, key, "c", "rust"),
            1.10,
            f"ratio of minima {ratio(exchanges, key, 'c', 'rust', 'min_s'):.3f}",
        )
    add(
        "S1: (d)/(c), Python over C",
        ratio(exchanges, "S1", "python", "c"),
        1.25,
        f"ratio of minima {ratio(exchanges, 'S1', 'python', 'c', 'min_s'):.3f}",
    )
    builds = results["builds"]
    first_builds = ""
    if "rust first_build" in builds and "crate first_build" in builds:
        first_builds = (
            "first build in a process: "
            f"{builds['rust first_build']['median_s'] / builds['crate first_build']['median_s']:.3f}"
        )
    add(
        "S4: build + seal 1,000,000 items, Rust insert_many / the crate",
        builds["rust insert_many"]["median_s"] / builds["crate insert_many"]["median_s"],
        0.60,
        first_builds,
    )
    add(
        "S4: Python insert_many / C insert_many (1,000,000 items)",
        builds["python insert_many"]["median_s"] / builds["c insert_many"]["median_s"],
        1.5,
    )
    radio = {record["frame_limit"]: record for record in results["radio"]}
    unlimited = radio[0]["bytes_to_responder"] + radio[0]["bytes_to_initiator"]
    at_200 = radio[200]
    found = at_200["have"] == RADIO_ONLY and at_200["need"] == RADIO_ONLY
    add(
        "Radio: 10,000 a side, 10 apart each way, limit 200 both sides: bytes / no limit",
        (at_200["bytes_to_responder"] + at_200["bytes_to_initiator"]) / unlimited
        if found
        else float("inf"),
        2.0,
        f"{at_200['round_trips']} round trips"
        + ("" if found else "; NOT all differences found"),
    )
    creation = results["sessions"]["creation_s"]
    add(
        "S5: session creation, 1,000,000-item / 1,000-item set",
        creation["1000000"] / creation["1000"],
        2.0,
        f"{creation['1000'] * 1e9:.0f} ns vs {creation['1000000'] * 1e9:.0f} ns",
    )
    memory = results["sessions"]["memory"]
    add(
        "S5: memory of a 100,000-item set + 100 sessions / the set alone",
        (memory["set_bytes"] + memory["initiated_bytes"]) / memory["set_bytes"],
        1.2,
        f"set {memory['set_bytes'] / 1e6:.2f} MB, 100 initiated sessions +{memory['initiated_bytes'] / 1e3:.0f} kB",
    )
    add(
        "S6: resident bytes per item, sealed 1,000,000-item set",
        results["resident"]["negsync"],
        44.0,
        "the item itself is 40",
    )
    mismatches = []
    for key, entry in exchanges.items():
        baseline = entry["variants"]["crate"]
        for variant, summary in entry["variants"].items():
            same = summary["consistent"] and all(
                summary[field] == baseline[field]
                for field in (
                    "round_trips",
                    "bytes_to_responder",
                    "bytes_to_initiator",
                    "have",
                    "need",
                    "have_checksum",
                    "need_checksum",
                )
            )
            complete = baseline["have"] + baseline["need"] == entry["differences"]
            if not (same and complete):
                mismatches.append(f"{key} {variant}")
    add(
        "Wire bytes, round trips and found IDs identical to the baseline (every exchange, every variant)",
        float(len(mismatches)),
        0.0,
        (
            "mismatches: " + ", ".join(mismatches)
            if mismatches
            else "all identical, all differences found"
        ),
    )
    return targets


def milliseconds(seconds):
    if seconds >= 1:
        return f"{seconds * 1e3:,.0f}"
    if seconds >= 0.01:
        return f"{seconds * 1e3:.1f}"
    return f"{seconds * 1e3:.3f}"


def spread(summary):
    """Half the interquartile range, as a share of the median: the noise of one figure."""
    return f"±{50.0 * (summary['q3_s'] - summary['q1_s']) / summary['median_s']:.1f}%"


def render_tables(results):
    exchanges, targets = results["exchanges"], results["targets"]
    lines = [
        "### Targets",
        "",
        "| target | measured | limit | result | note |",
        "|---|---:|---:|---|---|",
    ]
    for target in targets:
        if target["target"].startswith("Wire"):
            measured, limit = f"{target['measured']:.0f} mismatches", "0"
        elif "bytes per item" in target["target"]:
            measured, limit = f"{target['measured']:.1f}", f"≤ {target['limit']:.0f}"
        else:
            measured, limit = f"{target['measured']:.3f}", f"≤ {target['limit']:.2f}"
        verdict = "**met**" if target["met"] else "**missed**"
        lines.append(
            f"| {target['target']} | {measured} | {limit} | {verdict} | {target['note']} |"
        )

    lines += [
        "",
        "### Exchanges (whole exchange: both sides, every round, one process; median of N)",
        "",
        "| scenario | variant | median ms | spread | vs (a) | N | round trips | bytes to responder | bytes to initiator | bytes / (d·32) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, entry in exchanges.items():
        crate = entry["variants"]["crate"]
        floor = entry["differences"] * 32
        for variant, name in VARIANTS.items():
            summary = entry["variants"][variant]
            total_bytes = summary["bytes_to_responder"] + summary["bytes_to_initiator"]
            lines.append(
                f"| {key} | {name} | {milliseconds(summary['median_s'])} | {spread(summary)} | "
                f"{summary['median_s'] / crate['median_s']:.3f} | {summary['samples']} | {summary['round_trips']:,} | "
                f"{summary['bytes_to_responder']:,} | {summary['bytes_to_initiator']:,} | {total_bytes / floor:.1f} |"
            )
    lines += [
        "",
        "Spread: half the interquartile range over the median. d: differences (items only one side holds).",
        "",
        "### Set building, 1,000,000 items (S4, median of N)",
        "",
        "| how | median ms | spread | N |",
        "|---|---:|---:|---:|",
    ]
    build_names = {
        "rust insert_many": "Rust: `ItemSet::insert_many` + `snapshot()`",
        "crate insert_many": "crate: `NegentropyStorageVector::insert` per item + `seal()` (reference)",
        "c insert_many": "C: `negsync_set_insert_many` + `negsync_set_len` (seals)",
        "c insert_loop": "C: `negsync_set_insert` per item + `negsync_set_len`",
        "python insert_many": "Python: `ItemSet.insert_many` + `len()`",
        "python insert_loop": "Python: `ItemSet.insert` per item + `len()`",
        "rust first_build": "Rust, as above, the first build in a fresh process",
        "crate first_build": "crate, as above, the first build in a fresh process",
    }
    for key, name in build_names.items():
        if key not in results["builds"]:
            continue
        summary = results["builds"][key]
        lines.append(
            f"| {name} | {milliseconds(summary['median_s'])} | {spread(summary)} | {summary['samples']} |"
        )
    lines += [
        "",
        "### Radio frames (negsync alone: 10,000 items a side, 10 only on each; both sides at the limit)",
        "",
        "| frame limit | round trips | bytes to responder | bytes to initiator | total / no limit | ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    radio_unlimited = None
    for record in results.get("radio", []):
        total = record["bytes_to_responder"] + record["bytes_to_initiator"]
        radio_unlimited = radio_unlimited or total
        limit = f"{record['frame_limit']:,}" if record["frame_limit"] else "none"
        lines.append(
            f"| {limit} | {record['round_trips']:,} | {record['bytes_to_responder']:,} | "
            f"{record['bytes_to_initiator']:,} | {total / radio_unlimited:.2f} | "
            f"{milliseconds(record['seconds'])} |"
        )
    sessions = results["sessions"]
    memory = sessions["memory"]
    resident = results["resident"]
    lines += [
        "",
        "### Sessions and memory (S5, S6; Rust API, each measured in a fresh process)",
        "",
        "| measurement | value |",
        "|---|---:|",
        f"| session creation on an unchanged 1,000-item set | {sessions['creation_s']['1000'] * 1e9:,.0f} ns |",
        f"| session creation on an unchanged 1,000,000-item set | {sessions['creation_s']['1000000'] * 1e9:,.0f} ns |",
        f"| resident growth: 100,000-item set, sealed | {memory['set_bytes'] / 1e6:.2f} MB |",
        f"| resident growth: + 100 sessions over it | {memory['sessions_bytes'] / 1e3:,.0f} kB |",
        f"| resident growth: + each of them initiated (first message held) | {memory['initiated_bytes'] / 1e3:,.0f} kB |",
        f"| creation time per session among the 100 | {memory['seconds_per_session'] * 1e9:,.0f} ns |",
        f"| resident bytes per item, sealed 1,000,000-item set, `insert_many` | {resident['negsync']:.1f} |",
        f"| resident bytes per item, the same built by per-item `insert` | {resident['negsync-insert']:.1f} |",
        f"| resident bytes per item, the crate's `NegentropyStorageVector` (reference) | {resident['crate']:.1f} |",
    ]
    return "\n".join(lines) + "\n"


def render_machine(info, load):
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']}; "
        f"{info['rustc']}; {info['cc']}; Python {info['python']}. Run {info['date']}; load average "
        f"{load[0]:.2f} at the start, {load[1]:.2f} at the end (other work shared the two cores).\n"
    )


def render_findings(results, profile):
    """Where negsync's instructions go, with this run's and the profile's numbers."""
    exchanges = results["exchanges"]
    totals, breakdowns = profile["totals"], profile["breakdowns"]

    def share(label, prefix):
        groups = breakdowns[label]["groups"]
        (group,) = [name for name in groups if name.startswith(prefix)]
        return groups[group] / sum(groups.values())

    def fact(label, name, key):
        # A profile from before a function existed counts it as never called.
        return breakdowns[label]["functions"].get(name, {}).get(key, 0)

    def pct(value):
        return f"{100 * value:.1f}%"

    def vs_crate(label, variant):
        return totals[f"{label}|{variant}"] / totals[f"{label}|crate"]

    scalar = {label: fact(label, "sha256::compress256", "calls") for label in breakdowns}
    batches = {label: fact(label, "sha256_lanes::compress", "calls") for label in breakdowns}
    # Per call over every profiled exchange: an exchange may make no call of one kind.
    def per_call(name, calls):
        inclusive = sum(fact(label, name, "inclusive") for label in breakdowns)
        return inclusive / max(1, sum(calls.values()))

    per_scalar = per_call("sha256::compress256", scalar)
    per_batch = per_call("sha256_lanes::compress", batches)
    outside = {
        label: (
            fact(label, "negsync::session::Session::reconcile_lent", "inclusive")
            - fact(label, "negsync::engine::Engine::reconcile", "inclusive")
        )
        / sum(breakdowns[label]["groups"].values())
        for label in breakdowns
    }
    rust_ms = {key: exchanges[key]["variants"]["rust"]["median_s"] * 1e3 for key in exchanges}
    crate_ms = {key: exchanges[key]["variants"]["crate"]["median_s"] * 1e3 for key in exchanges}
    rows = "\n".join(
        f"| {label} | {scalar[label]:,} + {batches[label]:,} | {pct(share(label, 'engine: fingerprint hashing'))} | "
        f"{pct(share(label, 'engine: range sums'))} | {pct(share(label, 'engine: answering'))} | "
        f"{pct(share(label, 'negsync: reading'))} | {pct(share(label, 'negsync: writing'))} | "
        f"{pct(share(label, 'negsync: have/need'))} | {pct(share(label, 'allocation'))} | "
        f"{pct(share(label, 'copies'))} | {vs_crate(label, 'rust'):.3f} |"
        for label in breakdowns
    )
    return f"""## Where the time goes (negsync's own engine)

Timed here: {rust_ms['S1']:,.0f} ms without a frame limit (the crate {crate_ms['S1']:,.0f} ms),
{rust_ms['S2 60,000']:,.0f} ms at 60,000 bytes (the crate {crate_ms['S2 60,000']:,.0f} ms),
{rust_ms['S2 4,096']:,.0f} ms at 4,096 bytes (the crate {crate_ms['S2 4,096']:,.0f} ms), for the same 10,000
differences and the same bytes on the wire. Instruction shares (callgrind, Rust API):

| exchange | compressions: one at a time + 16 lanes | hashing | range sums | answering ranges | reading | writing | have/need | allocation | copies | vs crate |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

- **A frame cut no longer costs a scan.** After a cut the message closes with one fingerprint
  over everything not yet reconciled; the crate sums every remaining item for it, every round
  (72% of its instructions at 4,096 bytes). negsync reads two sampled running sums and at most 16
  IDs, so the 2,235 rounds at 4,096 cost about what their fingerprints and bytes cost.
- **What is left is hashing and memory.** Each range fingerprint is one SHA-256 compression of
  one block. The engine works them out sixteen at a time where it can (a split's buckets, a run of
  the peer's fingerprint ranges); on an x86-64 CPU without SHA instructions, which is what
  callgrind presents (valgrind cannot run them), a batch of 8 or more is hashed side by side in
  vector lanes: {per_batch:,.0f} instructions for up to 16 fingerprints, where `sha2`'s portable
  code spends {per_scalar:,.0f} on one (the column above counts both kinds of call). The timed
  runs use the CPU's SHA instructions through `sha2`, one fingerprint at a time. Hashing is
  {pct(share('S2 60,000', 'engine: fingerprint hashing'))} of negsync's instructions at 60,000 bytes, so the instruction ratios
  ({vs_crate('S2 60,000', 'rust'):.3f}x at 60,000, {vs_crate('S2 4,096', 'rust'):.3f}x at 4,096) stay above the time ratios
  ({rust_ms['S2 60,000'] / crate_ms['S2 60,000']:.3f}x, {rust_ms['S2 4,096'] / crate_ms['S2 4,096']:.3f}x).
  Answering ranges is mostly the search for each bound: the sampled timestamps keep it to a small
  array and a few neighbouring items.
- **negsync's session around the engine** is {pct(outside['S1'])} of S1, {pct(outside['S2 60,000'])} of S2 at
  60,000 and {pct(outside['S2 4,096'])} at 4,096. Through the C ABI (the LTO-built library of `make lib`)
  the same exchanges count {vs_crate('S1', 'c'):.3f}x the crate on S1, {vs_crate('S3', 'c'):.3f}x on S3 and
  {vs_crate('S2 60,000', 'c'):.3f}x on S2 at 60,000: the C layer adds {100 * (totals['S1|c'] / totals['S1|rust'] - 1):+.1f}%,
  {100 * (totals['S3|c'] / totals['S3|rust'] - 1):+.1f}% and {100 * (totals['S2 60,000|c'] / totals['S2 60,000|rust'] - 1):+.1f}% to the Rust API's count.

"""


def render_document(results, tables, profile_markdown, profile):
    parts = [
        "# negsync benchmarks",
        "",
        "Generated by `make bench` (benches/run.py); the instruction profile by `make bench-profile`",
        "(benches/callgrind_profile.py). Every variant reconciles the same sets, read from one data file",
        "written by a seeded SplitMix64 generator (benches/suite/data.rs). (a) is the `negentropy` crate",
        "0.5.3 used directly with its `NegentropyStorageVector`; (b) negsync's Rust API; (c) the C ABI",
        "called from C (bindings/c/bench/bench.c, linked to a copy of the `libnegsync.so` that `make lib`",
        "builds, with LTO); (d) the Python package (bindings/python/bench/bench.py, loading the same",
        "copy). Every exchange is timed whole: both sessions created, every round on both sides in one",
        "process, until the initiator holds its have/need IDs; set building is timed apart (S4).",
        "",
        render_machine(results["machine"], results["load"]),
        tables,
        "## Reading the numbers",
        "",
        "- Noise: the machine has two cores shared with other builds. Variants run in turns and (a)/(b)",
        "  alternate inside one process, so drift falls on all alike; the spread column shows what is",
        "  left, and the targets table gives the ratio of minima beside the ratio of medians. The",
        "  instruction counts below are deterministic and settle a ratio that noise leaves open.",
        "- S4's timed builds run in a process that has built both kinds of set once: the blocks a",
        "  process first asks for come fresh from the kernel, later ones mostly back through the",
        "  allocator (blocks over 32 MiB, like either set's 40 MB of items, are always fresh, and each",
        "  page of them costs a fault: about 10 ms of either build here). The first build of each",
        "  process is its own row, and which variant goes first alternates between processes.",
        "- S2's rows come from two or three exchanges each (one takes seconds); on a loaded machine",
        "  their spreads reach tens of percent and their ratios say little: read S2's comparisons",
        "  from the instruction counts.",
        "- `make lib` builds `libnegsync.so`/`.a` with LTO, by `cargo rustc --release --lib --crate-type",
        "  cdylib,staticlib` (Cargo.toml's `crate-type` is `rlib` only): cargo silently drops `lto = true`",
        "  for a lib whose crate types include `rlib` (rust-lang/cargo#9672, #14612). Measured when the",
        "  crate was the engine (2026-11-25): without LTO the C ABI counted 1.07-1.34x the instructions",
        "  of the same exchanges through the Rust API; with LTO within a percent (profile below).",
        "- Memory (S5, S6) is resident growth read from /proc/self/status in a fresh process. Figures",
        "  depend on the allocator: once a process has freed a block of many megabytes, glibc serves",
        "  blocks up to that size (at most 32 MiB) from its heap, where a growing `Vec`'s old buffers",
        "  stay resident after they are freed. A set grown by per-item inserts after such a free",
        "  measured 61 bytes per item instead of 40 (the bench avoids that state; a long-running",
        "  application may not).",
        "",
    ]
    if profile is not None:
        parts.append(render_findings(results, profile))
    if profile_markdown:
        parts += ["## Instruction profile (callgrind)", ""]
        timed = results["machine"].get("library_sha256")
        counted = (profile or {}).get("measured", {}).get("library_sha256")
        if counted is None or counted != timed:
            parts += [
                "Note: this profile was not counted on the `libnegsync.so` the timings above ran"
                + (" (or predates the record of it)" if counted is None else "")
                + "; its C ABI counts may describe another build.",
                "",
            ]
        parts.append(profile_markdown)
    else:
        parts += [
            "## Instruction profile",
            "",
            "Not measured yet: `make bench-profile` writes it, and the next `make bench` puts it here",
            "with the findings drawn from it.",
            "",
        ]
    return "\n".join(parts)


def make_plot():
    try:
        import matplotlib  # noqa: F401  (only to learn whether the plot step can run)
    except ImportError:
        log(
            "bench: matplotlib not installed, no docs/bench.png (pip install matplotlib; python3 benches/plot.py)"
        )
        return
    subprocess.run([sys.executable, str(common.ROOT / "benches" / "plot.py")], check=True)


def quick_plan():
    """`--quick`: one round of everything, a single exchange per process: to try the driver
    out, not to measure (its ratios are too noisy to judge a target by)."""
    global BUILD_ROUNDS, SESSION_PROCESSES, RESIDENT_PROCESSES
    EXCHANGES[:] = [
        exchange._replace(rounds=1, reps=min(exchange.reps, 5), warmups=min(exchange.warmups, 1))
        for exchange in EXCHANGES
    ]
    BUILD_ROUNDS = SESSION_PROCESSES = RESIDENT_PROCESSES = 1


def write_reports(results):
    """docs/bench.md (with the latest instruction profile, when there is one) and the plot."""
    profile_markdown, profile = "", None
    if (OUT_DIR / "profile.md").exists() and (OUT_DIR / "profile.json").exists():
        profile_markdown = (OUT_DIR / "profile.md").read_text()
        profile = json.loads((OUT_DIR / "profile.json").read_text())
    results["targets"] = evaluate(results, profile)
    DOCS_DIR.mkdir(exist_ok=True)
    tables = render_tables(results)
    (DOCS_DIR / "bench.md").write_text(render_document(results, tables, profile_markdown, profile))
    make_plot()
    return tables


def main(argv):
    if argv[1:] == ["--render-only"]:
        # After `make bench-profile`: the same timings, the new profile and findings.
        results = json.loads((OUT_DIR / "results.json").read_text())
        tables = write_reports(results)
        (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        print(tables)
        return 0
    if argv[1:] == ["--quick"]:
        quick_plan()
    elif argv[1:]:
        raise SystemExit("usage: run.py [--quick | --render-only]")
    common.require_programs()
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    log("bench: building the Rust bench")
    suite = common.suite_executable()
    common.generate_data(suite)
    results = {"machine": machine()}
    results["exchanges"] = run_exchanges(suite)
    results["builds"] = run_builds(suite)
    results["sessions"] = run_sessions(suite)
    results["resident"] = run_resident(suite)
    results["radio"] = run_radio(suite)
    results["load"] = [load_start, os.getloadavg()[0]]
    results["targets"] = evaluate(results)
    results["wall_seconds"] = time.monotonic() - started

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    # The plot reads results.json: write it before the reports, and again with their targets.
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    tables = write_reports(results)
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(render_machine(results["machine"], results["load"]))
    print(tables)
    missed = [target["target"] for target in results["targets"] if not target["met"]]
    log(
        f"bench: {len(results['targets']) - len(missed)} of {len(results['targets'])} targets met "
        f"in {results['wall_seconds']:.0f} s; wrote target/bench/results.json, docs/bench.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
