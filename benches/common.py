"""What benches/run.py (timings) and benches/callgrind_profile.py (instruction counts) share: where every
program and file is, how to build the Rust bench binary, and how to read the JSON lines that the
Rust, C and Python bench programs print. Standard library only."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "target" / "bench"
DATA_DIR = OUT_DIR / "data"
DOCS_DIR = ROOT / "docs"

# The two data files `suite generate` writes (benches/suite/data.rs says what is in them).
LARGE_FILE = DATA_DIR / "large.bin"  # S1, S2: 1,000,000 items a side, 5,000 only on each
SMALL_FILE = DATA_DIR / "small.bin"  # S3: 10,000 items a side, 5 only on each

# Built by `make bench-programs`, which copies `make lib`'s libnegsync.so (built with LTO) into
# build/bench-lib so that a rebuild of target/release by other work cannot change it during a run.
C_BENCH = ROOT / "build" / "negsync_bench"  # linked to that copy
PYTHON_BENCH = ROOT / "bindings" / "python" / "bench" / "bench.py"
LIBRARY = ROOT / "build" / "bench-lib" / "libnegsync.so"  # what Python loads


def log(message):
    """Progress goes to stderr, so stdout carries only the results."""
    print(message, file=sys.stderr, flush=True)


def suite_executable(target_dir=None, env_overrides=None):
    """Builds the Rust bench (benches/suite) with `cargo bench --no-run` and returns its path."""
    command = ["cargo", "bench", "--bench", "suite", "--no-run", "--message-format=json"]
    if target_dir is not None:
        command += ["--target-dir", str(target_dir)]
    env = dict(os.environ, **(env_overrides or {}))
    result = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True
    )
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if (
            message.get("reason") == "compiler-artifact"
            and message["target"]["name"] == "suite"
            and message.get("executable")
        ):
            return Path(message["executable"])
    raise SystemExit("bench: cargo built no `suite` executable")


def program_env():
    """The environment for the bench programs: Python loads the copy of `make lib`'s library."""
    return dict(os.environ, NEGSYNC_LIB=str(LIBRARY))


def run_records(command):
    """Runs one bench program and returns its JSON lines as dicts."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env=program_env(),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def generate_data(suite):
    """Writes the data files (the generator is deterministic: same seed, same sets)."""
    return run_records([suite, "generate", DATA_DIR])


def require_programs():
    missing = [path for path in (C_BENCH, LIBRARY) if not path.exists()]
    if missing:
        names = ", ".join(str(path.relative_to(ROOT)) for path in missing)
        raise SystemExit(f"bench: {names} missing: run `make bench-programs` (or `make bench`)")
