#!/usr/bin/env python3
"""Instruction profiles of the benchmark's exchanges, by valgrind's callgrind: deterministic
counts that the load of a shared two-core machine cannot blur (`make bench-profile`).

It counts, for one exchange each (collection switched on only inside the exchange function, so
set building is left out):
- S1, S3 and S2 at 60,000 through the crate, negsync's Rust API and the C ABI (the library
  `make lib` builds, with LTO): the deterministic twin of the timed ratios;
- S1 and S2 (frame limits 60,000 and 4,096) through the crate and negsync's Rust API, with a
  breakdown of negsync's instructions by what they do.

Writes target/bench/profile.json and target/bench/profile.md; `make bench` puts the latter into
docs/bench.md. Needs valgrind (callgrind_annotate comes with it). Standard library only.
"""

import datetime
import hashlib
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import common
from common import C_BENCH, LARGE_FILE, OUT_DIR, SMALL_FILE, log

CALLGRIND_DIR = OUT_DIR / "callgrind"
PROFILE_BUILD_DIR = OUT_DIR / "profile-build"

# (label, data file, frame limit): the exchanges of the timed suite.
S1 = ("S1", LARGE_FILE, 0)
S2_60000 = ("S2 60,000", LARGE_FILE, 60_000)
S2_4096 = ("S2 4,096", LARGE_FILE, 4_096)
S3 = ("S3", SMALL_FILE, 0)

# Which variants each exchange is counted through; the breakdown is made for the "rust" runs of
# BREAKDOWN_EXCHANGES.
RUNS = [
    (S3, ("crate", "rust", "c")),
    (S1, ("crate", "rust", "c")),
    (S2_60000, ("crate", "rust", "c")),
    (S2_4096, ("crate", "rust")),
]
BREAKDOWN_EXCHANGES = (S1, S2_60000, S2_4096)

VARIANT_NAMES = {
    "crate": "(a) crate",
    "rust": "(b) negsync Rust",
    "c": "(c) C ABI, `make lib` .so",
}


def command_for(variant, suite, exchange):
    """The command line and the callgrind --toggle-collect pattern for one run."""
    _, data_file, limit = exchange
    if variant == "crate":
        return [suite, "profile", data_file, limit, "crate"], "*run_crate*"
    if variant == "rust":
        return [suite, "profile", data_file, limit, "negsync"], "*run_negsync*"
    # One exchange, no warm-up: only run_exchange is counted anyway.
    return [C_BENCH, "exchange", data_file, limit, 1, 0], "run_exchange"


def run_callgrind(name, command, toggle):
    out_file = CALLGRIND_DIR / f"{name}.out"
    log_file = CALLGRIND_DIR / f"{name}.log"
    with open(log_file, "w") as stderr:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out_file}",
                f"--toggle-collect={toggle}",
                *map(str, command),
            ],
            cwd=common.ROOT,
            env=common.program_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            check=True,
        )
    record = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    total = next(
        int(line.split()[1])
        for line in out_file.read_text().splitlines()
        if line.startswith("totals:")
    )
    if total == 0:
        raise SystemExit(f"profile: nothing collected for {name}: was {toggle} inlined away?")
    return out_file, total, record


# One line of callgrind_annotate: "  1,234 (12.34%)  [marker]  file:function [object] (Nx)".
ANNOTATE_LINE = re.compile(
    r"^\s*(?P<ir>[\d,]+)\s+\(\s*[\d.]+%\)\s+(?P<marker>[<*>]\s+)?(?P<rest>\S.*)$"
)


def annotate(out_file, *options):
    """Parsed callgrind_annotate lines: (instructions, marker, file, function, object, calls)."""
    text = subprocess.run(
        ["callgrind_annotate", "--auto=no", "--threshold=100", *options, str(out_file)],
        # From elsewhere it shortens paths under its working directory ("src/wire.rs"), which
        # would make negsync's files look like anyone's.
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    ).stdout
    entries = []
    for line in text.splitlines():
        match = ANNOTATE_LINE.match(line)
        if not match or "PROGRAM TOTALS" in line:
            continue
        rest = match["rest"]
        calls = 0
        calls_match = re.search(r" \(([\d,]+)x\)", rest)
        if calls_match:
            calls = int(calls_match[1].replace(",", ""))
            rest = rest[: calls_match.start()] + rest[calls_match.end() :]
        object_match = re.search(r" \[(.*)\]$", rest)
        obj = object_match[1] if object_match else ""
        if object_match:
            rest = rest[: object_match.start()]
        file, _, function = rest.partition(":")
        marker = (match["marker"] or "").strip()
        entries.append((int(match["ir"].replace(",", "")), marker, file, function, obj, calls))
    return entries


# The breakdown's groups, in the order the table shows them (negsync's engine, src/engine/).
HASHING = "engine: fingerprint hashing (one SHA-256 compression per range)"
SUMMING = "engine: range sums (src/engine/range_index.rs, fingerprint.rs: the sampled sums)"
PROTOCOL = "engine: answering ranges (src/engine/round.rs: bound search, splits, ID-list matching)"
DECODING = "negsync: reading peer messages (src/wire.rs, the strict decoder)"
ENCODING = "negsync: writing messages (src/wire/writer.rs)"
ID_LISTS = "negsync: have/need ID lists (src/id_list.rs, hash set)"
SESSION = "negsync: session and the rest of src/"
ALLOCATION = "allocation (malloc, free, realloc, Vec growth)"
COPIES = "copies (memcpy, memmove)"
OTHER = "other"
GROUPS = [
    HASHING,
    SUMMING,
    PROTOCOL,
    DECODING,
    ENCODING,
    ID_LISTS,
    SESSION,
    ALLOCATION,
    COPIES,
    OTHER,
]


def negsync_source(file):
    """A negsync source file's path in the repository ("src/wire.rs"), or None for any other."""
    prefix = f"{common.ROOT}/src/"
    return "src/" + file[len(prefix) :] if file.startswith(prefix) else None


def classify(file, function):
    """The group of one (source file, containing function) self cost. Inlined code keeps the
    file it came from, which is what tells the groups apart; the standard library's helpers are
    placed by the function they were inlined into."""
    own = negsync_source(file)
    if "sha2" in file or "sha256" in function or "IdSum::fingerprint" in function:
        return HASHING
    if "/malloc/" in file or "raw_vec" in file or "raw_vec" in function:
        return ALLOCATION
    if "memmove" in file or "memcpy" in file or "memset" in file:
        return COPIES
    if own == "src/id_list.rs" or "negsync::id_list" in function:
        return ID_LISTS
    if "hash" in function.lower() or "hashbrown" in file:
        return ID_LISTS
    if own in ("src/engine/range_index.rs", "src/engine/fingerprint.rs"):
        return SUMMING
    if own == "src/wire/writer.rs" or "negsync::wire::writer" in function:
        return ENCODING
    if own == "src/wire.rs" or "negsync::wire" in function:
        return DECODING
    if (own or "").startswith("src/engine/") or function.startswith("negsync::engine"):
        return PROTOCOL
    if own is not None or function.startswith("negsync::"):
        return SESSION
    return OTHER


def function_facts(out_file, *names):
    """Calls and inclusive instructions of whole (not inlined) functions, by name suffix.

    In callgrind_annotate's caller tree each block lists a function's callers ('<', with call
    counts) and then the function itself ('*'). A function also gets blocks for the parts of it
    that came from other files; only its own symbol's block carries the object name, and that
    block holds its whole inclusive cost."""
    facts = {name: {"calls": 0, "inclusive": 0} for name in names}
    callers = []
    for ir, marker, _file, function, obj, calls in annotate(
        out_file, "--tree=caller", "--inclusive=yes"
    ):
        if marker == "<":
            callers.append(calls)
            continue
        if marker == "*" and obj:
            for name in names:
                if function.endswith(name) and ir > facts[name]["inclusive"]:
                    facts[name] = {"calls": sum(callers), "inclusive": ir}
        callers = []
    return facts


def breakdown(out_file, total):
    groups = dict.fromkeys(GROUPS, 0)
    for ir, _marker, file, function, _obj, _calls in annotate(out_file):
        groups[classify(file, function)] += ir
    groups[OTHER] += total - sum(groups.values())  # below callgrind_annotate's threshold
    facts = function_facts(
        out_file,
        "sha256::compress256",
        "sha256_lanes::compress",
        "negsync::engine::Engine::reconcile",
        "negsync::session::Session::reconcile_lent",
    )
    return {"groups": groups, "functions": facts}


def percent(part, whole):
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def millions(count):
    return f"{count / 1e6:,.1f} M"


def write_markdown(results):
    totals = results["totals"]
    lines = [
        "### Instruction counts (callgrind; one exchange, set building excluded)",
        "",
        "Deterministic, unlike the timings: the same build and data give the same counts on any load.",
        f"Counted {results['measured']['date']} by `make bench-profile`; the C ABI on `make lib`'s",
        f"`libnegsync.so` (sha256 {results['measured']['library_sha256'][:12]}).",
        "",
        "| exchange | " + " | ".join(VARIANT_NAMES[v] for v in VARIANT_NAMES) + " |",
        "|---|" + "---:|" * len(VARIANT_NAMES),
    ]
    for exchange, _ in RUNS:
        label = exchange[0]
        crate_total = totals.get(f"{label}|crate")
        cells = []
        for variant in VARIANT_NAMES:
            count = totals.get(f"{label}|{variant}")
            if count is None:
                cells.append("")
            elif variant == "crate":
                cells.append(millions(count))
            else:
                cells.append(f"{millions(count)} ({count / crate_total:.3f}x)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    labels = [exchange[0] for exchange in BREAKDOWN_EXCHANGES]
    lines += [
        "",
        "### Where negsync's instructions go (Rust API, one exchange)",
        "",
        "Self cost by source file and containing function, grouped (rules in benches/callgrind_profile.py,",
        "`classify`). Instructions are not cycles: callgrind runs `sha2`'s portable SHA-256, while the",
        "timed runs use the CPU's SHA instructions, so in time hashing weighs far less than here.",
        "",
        "| part | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for group in GROUPS:
        cells = []
        for label in labels:
            entry = results["breakdowns"][label]
            whole = sum(entry["groups"].values())
            cells.append(
                f"{millions(entry['groups'][group])} ({percent(entry['groups'][group], whole)})"
            )
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total** | "
        + " | ".join(
            f"**{millions(sum(results['breakdowns'][label]['groups'].values()))}**"
            for label in labels
        )
        + " |"
    )

    def fact_row(title, render):
        return (
            f"| {title} | "
            + " | ".join(render(results["breakdowns"][label]) for label in labels)
            + " |"
        )

    def function(entry, name):
        return entry["functions"][name]

    def per_call(facts):
        return f"{facts['inclusive'] / facts['calls']:,.0f}" if facts["calls"] else "-"

    lines += [
        "",
        "| facts | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
        fact_row("round trips", lambda e: f"{e['round_trips']:,}"),
        fact_row(
            "SHA-256 compressions one at a time (`sha2`, portable code)",
            lambda e: f"{function(e, 'sha256::compress256')['calls']:,}",
        ),
        fact_row(
            "instructions per compression one at a time",
            lambda e: per_call(function(e, "sha256::compress256")),
        ),
        fact_row(
            "16-lane compressions (src/engine/sha256_lanes.rs: up to 16 fingerprints each)",
            lambda e: f"{function(e, 'sha256_lanes::compress')['calls']:,}",
        ),
        fact_row(
            "instructions per 16-lane compression",
            lambda e: per_call(function(e, "sha256_lanes::compress")),
        ),
        fact_row(
            "the session around the engine (Session::reconcile_lent minus Engine::reconcile)",
            lambda e: millions(
                function(e, "negsync::session::Session::reconcile_lent")["inclusive"]
                - function(e, "negsync::engine::Engine::reconcile")["inclusive"]
            ),
        ),
    ]
    return "\n".join(lines) + "\n"


def analyze(results):
    """Adds the breakdowns to `results` (totals and records filled) from the callgrind files."""
    results["breakdowns"] = {}
    for exchange in BREAKDOWN_EXCHANGES:
        label = exchange[0]
        entry = breakdown(
            CALLGRIND_DIR / f"{run_name(exchange, 'rust')}.out", results["totals"][f"{label}|rust"]
        )
        entry["round_trips"] = results["records"][f"{label}|rust"]["round_trips"]
        results["breakdowns"][label] = entry


def run_name(exchange, variant):
    return f"{exchange[0].replace(' ', '_').replace(',', '')}_{variant}"


def run_all():
    common.require_programs()
    CALLGRIND_DIR.mkdir(parents=True, exist_ok=True)
    log("profile: building the bench with debug info (for source attribution)")
    suite = common.suite_executable(
        target_dir=PROFILE_BUILD_DIR, env_overrides={"CARGO_PROFILE_BENCH_DEBUG": "true"}
    )
    common.generate_data(suite)
    jobs = [
        (exchange, variant, *command_for(variant, suite, exchange))
        for exchange, variants in RUNS
        for variant in variants
    ]

    # Counts do not depend on load, so two at a time on the two cores costs no accuracy.
    def run(job):
        exchange, variant, command, toggle = job
        log(f"profile: callgrind {exchange[0]} {variant}")
        return job, run_callgrind(run_name(exchange, variant), command, toggle)

    results = {
        "measured": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "library_sha256": hashlib.sha256(common.LIBRARY.read_bytes()).hexdigest(),
        },
        "totals": {},
        "records": {},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (exchange, variant, _command, _toggle), (_out, total, record) in pool.map(run, jobs):
            results["totals"][f"{exchange[0]}|{variant}"] = total
            results["records"][f"{exchange[0]}|{variant}"] = record
    return results


def main(argv):
    if argv[1:] == ["--analyze-only"]:
        # Re-reads the callgrind files of the last run (after a change to the grouping rules).
        results = json.loads((OUT_DIR / "profile.json").read_text())
    elif argv[1:]:
        raise SystemExit("usage: callgrind_profile.py [--analyze-only]")
    else:
        results = run_all()
    analyze(results)
    (OUT_DIR / "profile.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = write_markdown(results)
    (OUT_DIR / "profile.md").write_text(markdown)
    print(markdown)
    log(f"profile: wrote {OUT_DIR / 'profile.json'} and {OUT_DIR / 'profile.md'}")


if __name__ == "__main__":
    main(sys.argv)
