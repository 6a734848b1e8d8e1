#!/usr/bin/env python3
"""Cross-implementation test: negsync's harnesses (C and Python) against a harness built on the
`negentropy` crate alone, in both roles, over the line protocol of the Negentropy reference test
suite (see bindings/c/examples/harness.c).

What it runs (`make interop` builds the harnesses first):
  * contract checks: bad input makes a harness fail loudly (stderr, exit 1, no stray output);
  * the protocol-version behaviour (0x62 gets a bare 0x61, and the responder stays ready);
  * negsync's responders against the crate's on arbitrary valid messages (not only those an
    engine like theirs writes): the same reply, byte for byte;
  * the transcript vectors of tests/vectors/, whose bytes every pairing must reproduce exactly;
  * fixed regression pairs from frame-cut bugs, every pairing;
  * --cases seeded random cases (sizes 0..20,000 items, a few of 100,000; many shapes of overlap,
    crowded and consecutive timestamps, shared ID prefixes; all frame-limit pairs), every pairing.
Each exchange must give the initiator exactly the true differences, keep every message within its
sender's frame limit, and put the same bytes on the wire whatever the pairing (negsync runs the
crate's engine, so a difference means one side is not speaking what the other speaks).

The last line printed is `N passed, N failed`; the exit status is 1 when anything failed.
Reproduce one random case: `tests/interop/run.py --seed S --case N` (printed with each failure).
"""

import argparse
import concurrent.futures
import csv
import dataclasses
import hashlib
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# (initiator, responder) frame size limits; 0 is none.
LIMIT_PAIRS = [(0, 0), (4096, 4096), (60000, 60000), (4096, 0), (0, 60000)]
# (initiator, responder): negsync in both roles against the reference, through both bindings.
PAIRINGS = [("c", "crate"), ("crate", "c"), ("python", "crate"), ("crate", "python")]
NEGSYNC_IMPLEMENTATIONS = ("c", "python")

MAX_TIMESTAMP = 2**64 - 2  # 2**64 - 1 is the protocol's "infinity"
HUGE_SIZE = 100_000
MAX_ROUND_TRIPS = 20_000  # far beyond any case here: an exchange this long does not end
RUN_TIMEOUT_SECONDS = 120

ID_LINE = re.compile(rb"(have|need),([0-9a-f]{64})\n")
MSG_LINE = re.compile(rb"msg,((?:[0-9a-f]{2})+)\n")
# `00 00 01` + the fingerprint of nothing: the crate's empty range at infinity after a frame cut.
EMPTY_TAIL = bytes.fromhex("0000017f9c9e31ac8256ca2f258583df262dbc")


class Failure(Exception):
    """One check did not hold; the message says what, where, and how to reproduce it."""


@dataclasses.dataclass
class Case:
    """Two item lists (duplicates allowed) and the frame limits of the two sides."""

    label: str
    description: str
    initiator_items: list  # of (timestamp, id bytes)
    responder_items: list
    limits: tuple
    reproduce: str = ""
    _inputs: dict = dataclasses.field(default_factory=dict, repr=False)

    def expected(self):
        initiator, responder = set(self.initiator_items), set(self.responder_items)
        return ({i for _, i in initiator - responder}, {i for _, i in responder - initiator})

    def input_for(self, side):
        """The harness input that builds this side's set (made once: every pairing reuses it)."""
        if side not in self._inputs:
            items = self.initiator_items if side == "initiator" else self.responder_items
            lines = [b"item,%d,%s\n" % (timestamp, id.hex().encode()) for timestamp, id in items]
            self._inputs[side] = b"".join(lines) + b"seal\n"
        return self._inputs[side]


@dataclasses.dataclass
class Outcome:
    """What one exchange produced, seen from the outside."""

    have: list
    need: list
    round_trips: int
    bytes_to_responder: int
    bytes_to_initiator: int
    transcript_digest: str
    messages: list  # hex of every message in order, when asked to keep them
    seconds: float


class Harness:
    """One running harness process, spoken to a line at a time."""

    def __init__(self, implementation, command, frame_size_limit, role):
        self.name = f"{implementation} {role}"
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(os.environ, FRAMESIZELIMIT=str(frame_size_limit)),
            )
        except OSError as error:
            raise Failure(f"cannot start {self.name} ({command[-1]}): {error}") from None

    def send(self, data):
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except BrokenPipeError:
            raise Failure(f"{self.name} stopped reading its input{self.stderr_tail()}") from None

    def read_line(self):
        line = self.process.stdout.readline()
        if not line.endswith(b"\n"):
            raise Failure(f"{self.name} ended its output mid-exchange{self.stderr_tail()}")
        return line

    def stderr_tail(self):
        self.kill()
        text = self.process.stderr.read().decode("utf-8", "replace").strip()
        return f" (exit {self.process.wait()}; stderr: {text[-600:]!r})"

    def finish(self):
        """Ends the input; the harness must then exit 0, silently."""
        self.process.stdin.close()
        rest = self.process.stdout.read()
        errors = self.process.stderr.read().decode("utf-8", "replace")
        status = self.process.wait()
        if status != 0 or rest or errors:
            raise Failure(
                f"{self.name} at end of input: exit {status}, stray output {rest[:200]!r}, "
                f"stderr {errors.strip()[-600:]!r}"
            )

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()

    def close(self):
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.process.wait()


def run_exchange(commands, case, initiator_name, responder_name, keep_messages=False):
    """Runs one whole exchange between two harnesses and checks every message on the way."""
    started = time.monotonic()
    initiator_limit, responder_limit = case.limits
    initiator = Harness(initiator_name, commands[initiator_name], initiator_limit, "initiator")
    try:
        responder = Harness(responder_name, commands[responder_name], responder_limit, "responder")
    except Failure:
        initiator.close()
        raise
    timed_out = threading.Event()

    def stop_both():
        timed_out.set()
        initiator.kill()
        responder.kill()

    watchdog = threading.Timer(RUN_TIMEOUT_SECONDS, stop_both)
    watchdog.start()
    try:
        initiator.send(case.input_for("initiator"))
        responder.send(case.input_for("responder"))
        digest = hashlib.sha256()
        outcome = Outcome([], [], 0, 0, 0, "", [], 0.0)

        def check_message(line, sender, limit):
            match = MSG_LINE.fullmatch(line)
            if match is None:
                raise Failure(f"{sender.name} printed {line[:120]!r} where a msg line belongs")
            size = len(match.group(1)) // 2
            if limit and size > limit:
                raise Failure(f"{sender.name} sent {size} bytes, over its frame limit {limit}")
            digest.update(line)
            if keep_messages:
                outcome.messages.append(match.group(1).decode())
            return size

        initiator.send(b"initiate\n")
        line = initiator.read_line()
        while True:
            outcome.round_trips += 1
            if outcome.round_trips > MAX_ROUND_TRIPS:
                raise Failure(f"no end after {MAX_ROUND_TRIPS} round trips")
            outcome.bytes_to_responder += check_message(line, initiator, initiator_limit)
            responder.send(line)
            reply = responder.read_line()
            outcome.bytes_to_initiator += check_message(reply, responder, responder_limit)
            initiator.send(reply)
            seen_need = False
            while True:
                line = initiator.read_line()
                found = ID_LINE.fullmatch(line)
                if found is None:
                    break
                if found.group(1) == b"have":
                    if seen_need:
                        raise Failure(f"{initiator.name} printed a have line after a need line")
                    outcome.have.append(bytes.fromhex(found.group(2).decode()))
                else:
                    seen_need = True
                    outcome.need.append(bytes.fromhex(found.group(2).decode()))
            if line == b"done\n":
                break
        initiator.finish()
        responder.finish()
    except Failure:
        if timed_out.is_set():
            raise Failure(f"killed after {RUN_TIMEOUT_SECONDS} s without finishing") from None
        raise
    finally:
        watchdog.cancel()
        initiator.close()
        responder.close()
    outcome.transcript_digest = digest.hexdigest()
    outcome.seconds = time.monotonic() - started
    return outcome


def check_result(case, initiator_name, outcome):
    """The initiator learned exactly the true differences (and negsync reports each ID once)."""
    expected_have, expected_need = case.expected()
    for what, found, expected in (
        ("have", outcome.have, expected_have),
        ("need", outcome.need, expected_need),
    ):
        found_set = set(found)
        if found_set != expected:
            missing, extra = expected - found_set, found_set - expected
            raise Failure(
                f"{what} is not the true difference: {len(missing)} missing, {len(extra)} "
                f"wrong (expected {len(expected)}, got {len(found_set)})"
            )
        # The crate may report an ID again in a later round; negsync promises each once.
        if initiator_name in NEGSYNC_IMPLEMENTATIONS and len(found) != len(found_set):
            raise Failure(f"{what}: {len(found) - len(found_set)} IDs reported more than once")


# ---------------------------------------------------------------------------------------------
# A small reader of Negentropy V1 messages, for the checks that look inside one.


def read_varint(message, offset):
    value = 0
    while True:
        if offset >= len(message):
            raise Failure("message ends inside a varint")
        byte = message[offset]
        offset += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, offset


def fingerprint_ranges(message):
    """How many Fingerprint ranges a V1 message holds (each asks the peer for another round)."""
    offset, count = 1, 0
    while offset < len(message):
        _, offset = read_varint(message, offset)  # timestamp
        prefix_length, offset = read_varint(message, offset)
        offset += prefix_length
        mode, offset = read_varint(message, offset)
        if mode == 1:
            count += 1
            offset += 16
        elif mode == 2:
            ids, offset = read_varint(message, offset)
            offset += 32 * ids
        elif mode != 0:
            raise Failure(f"unknown range mode {mode}")
    return count


# ---------------------------------------------------------------------------------------------
# Random cases.

SHAPES = {
    # name: weights of (shared, initiator only, responder only)
    "identical": (1, 0, 0),
    "few differences": (0.98, 0.01, 0.01),
    "initiator-heavy": (0.6, 0.35, 0.05),
    "responder-heavy": (0.6, 0.05, 0.35),
    "disjoint": (0, 0.5, 0.5),
    "initiator only": (0, 1, 0),
    "responder only": (0, 0, 1),
    "random weights": None,
}
# Huge cases hold what real nodes hold: mostly the same items, with differences to find (about
# 2,000 of 100,000). Heavier shapes at 100,000 items are not more telling, only slower: at a
# 4096-byte limit one takes over 1,500 round trips and 10 to 20 s a pairing.
HUGE_SHAPE = "few differences"


def timestamps(rng, style, count):
    """`count` timestamps in the given style, in no particular order."""
    if style == "spread":
        base = rng.randrange(2**40)
        return [base + rng.randrange(2**40) for _ in range(count)]
    if style == "crowded":  # about 40 items per timestamp
        base = rng.randrange(2**32)
        return [base + rng.randrange(max(1, count // 40)) for _ in range(count)]
    if style == "single":
        return [rng.randrange(2**32)] * count
    if style == "runs":  # runs of consecutive timestamps, some repeated, separated by gaps
        result, current = [], rng.randrange(2**32)
        for _ in range(count):
            roll = rng.random()
            if roll < 0.02:
                current += rng.randrange(2, 10**6)
            elif roll < 0.85:
                current += 1
            result.append(current)  # otherwise the same timestamp again
        return result
    if style == "near infinity":  # the largest timestamps an item may carry
        return [MAX_TIMESTAMP - rng.randrange(2 * count + 1) for _ in range(count)]
    raise ValueError(style)


TIMESTAMP_STYLES = ("spread", "crowded", "single", "runs", "near infinity")


def unique_ids(rng, count, shared_prefix):
    """`count` distinct IDs; with a shared prefix, only the last 6 bytes differ, so bounds
    between items of one timestamp need long ID prefixes."""
    prefix = rng.randbytes(26) if shared_prefix else b""
    ids, seen = [], set()
    # A list in the order drawn: iterating the set would follow the per-process string hash and
    # make the case differ from run to run.
    while len(ids) < count:
        candidate = prefix + rng.randbytes(32 - len(prefix))
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def random_case(seed, index):
    rng = random.Random(f"negsync-interop:{seed}:{index}")
    limits = LIMIT_PAIRS[index % len(LIMIT_PAIRS)]
    # Every 51st case (from case 10 on) holds 100,000 items; the odd period walks them across the
    # frame-limit pairs.
    huge = index % 51 == 10
    if huge:
        count, shape = HUGE_SIZE, HUGE_SHAPE
    else:
        roll = rng.random()
        if roll < 0.06:
            count = 0
        elif roll < 0.25:
            count = rng.randint(1, 64)
        elif roll < 0.6:
            count = rng.randint(65, 2000)
        else:
            count = rng.randint(2001, 20000)
        shape = rng.choice(list(SHAPES))
    weights = SHAPES[shape] or [rng.random() for _ in range(3)]
    style = rng.choice(TIMESTAMP_STYLES)
    shared_prefix = rng.random() < 0.2
    items = list(zip(timestamps(rng, style, count), unique_ids(rng, count, shared_prefix)))
    sides = rng.choices(("shared", "initiator", "responder"), weights=weights, k=count)
    initiator = [item for item, side in zip(items, sides) if side != "responder"]
    responder = [item for item, side in zip(items, sides) if side != "initiator"]
    # Insertion order must not matter and exact duplicates must count once.
    for side_items in (initiator, responder):
        if side_items and rng.random() < 0.3:
            side_items.extend(rng.choices(side_items, k=1 + len(side_items) // 100))
        rng.shuffle(side_items)
    in_common = len(set(initiator) & set(responder))
    description = (
        f"{count} items ({shape}: {in_common} shared, {len(set(initiator)) - in_common} "
        f"initiator only, {len(set(responder)) - in_common} responder only), timestamps "
        f"{style}{', shared ID prefix' if shared_prefix else ''}, limits {limits[0]}/{limits[1]}"
    )
    return Case(
        label=f"case {index}",
        description=description,
        initiator_items=initiator,
        responder_items=responder,
        limits=limits,
        reproduce=f"tests/interop/run.py --seed {seed} --case {index}",
    )


# ---------------------------------------------------------------------------------------------
# Fixed cases.


def numbered_id(name, n):
    return hashlib.sha256(f"{name}/{n}".encode()).digest()


def regression_cases():
    """The frame-cut regressions, as (case, check of the kept messages)."""
    cases = []
    responder = [(1000 + n, numbered_id("regression-a", n)) for n in range(122)]
    for initiator_limit in (0, 4096):
        case = Case(
            label=f"regression (a), initiator limit {initiator_limit}",
            description="responder 122 items at limit 4096, initiator 5 of them",
            initiator_items=responder[:5],
            responder_items=responder,
            limits=(initiator_limit, 4096),
        )

        def has_empty_tail(messages):
            replies = [bytes.fromhex(m) for m in messages[1::2]]
            if not any(len(m) > len(EMPTY_TAIL) + 3 and m.endswith(EMPTY_TAIL) for m in replies):
                raise Failure("no reply ends with the empty range at infinity: the case no "
                              "longer exercises the crate's frame-cut tail")

        cases.append((case, has_empty_tail))
    for initiator_limit in (0, 4096):
        case = Case(
            label=f"regression (b), initiator limit {initiator_limit}",
            description="responder timestamps 1..131 at limit 4096, initiator 101..131",
            initiator_items=[(t, numbered_id("regression-b", t)) for t in range(101, 132)],
            responder_items=[(t, numbered_id("regression-b", t)) for t in range(1, 132)],
            limits=(initiator_limit, 4096),
        )

        def finishes_after_fingerprint(messages):
            if fingerprint_ranges(bytes.fromhex(messages[-1])) == 0:
                raise Failure("the initiator's last reply held no fingerprint range: the case no "
                              "longer exercises a finish the responder cannot see")

        cases.append((case, finishes_after_fingerprint))
    return cases


def read_vector(path):
    """A tests/vectors/*.vec file (format in tests/vectors.rs) as a case and its messages."""
    initiator, responder, messages = [], [], []
    limits = None
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split(" ")
        if fields[0] == "limits":
            limits = (int(fields[1]), int(fields[2]))
        elif fields[0] in ("initiator", "responder"):
            item = (int(fields[1]), bytes.fromhex(fields[2]))
            (initiator if fields[0] == "initiator" else responder).append(item)
        elif fields[0] in ("to_responder", "to_initiator"):
            messages.append(fields[1])
    case = Case(f"vector {path.stem}", str(path), initiator, responder, limits)
    return case, messages


# ---------------------------------------------------------------------------------------------
# Single-harness checks: versions and the failure contract.


def run_harness(command, stdin, frame_size_limit=None):
    env = dict(os.environ)
    env.pop("FRAMESIZELIMIT", None)
    if frame_size_limit is not None:
        env["FRAMESIZELIMIT"] = frame_size_limit
    try:
        result = subprocess.run(
            command, input=stdin, capture_output=True, env=env, timeout=RUN_TIMEOUT_SECONDS
        )
    except OSError as error:
        raise Failure(f"cannot start {command[-1]}: {error}") from None
    except subprocess.TimeoutExpired:
        raise Failure(f"no exit after {RUN_TIMEOUT_SECONDS} s") from None
    return result.returncode, result.stdout, result.stderr


VERSION_ITEM = b"item,12345," + numbered_id("version", 0).hex().encode() + b"\n"
ID_LIST_QUERY = b"msg,6100000200\n"  # V1: one range to infinity, an empty ID list
# The crate's reply: a range to infinity holding its one ID.
EXPECTED_REPLY = b"msg,6100000201" + numbered_id("version", 0).hex().encode() + b"\n"


# Responders given arbitrary valid messages, not only those an engine like theirs would write:
# other implementations choose their bounds and splits differently, and negsync's validator must
# accept every valid message and answer it exactly as the crate does.
DIFFERENTIAL_SET = sorted(
    {(5000 + n % 37, numbered_id("differential", n)) for n in range(300)}
)
DIFFERENTIAL_MESSAGES = {"c": 150, "python": 15}


def encode_varint(value):
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def random_valid_message(rng):
    """A well-formed V1 message: non-decreasing bounds (some on item timestamps and ID prefixes
    of the set, some anywhere), every mode, fingerprints that match nothing, ID lists mixing known
    and unknown IDs, sometimes a last range to infinity."""
    bounds = []
    for _ in range(rng.randrange(20)):
        timestamp, known_id = rng.choice(DIFFERENTIAL_SET)
        roll = rng.random()
        if roll > 0.6:
            timestamp = rng.randrange(4990, 5050) if roll < 0.85 else rng.randrange(MAX_TIMESTAMP)
        prefix_length = rng.choice((0, 0, 1, 2, 5, 32))
        prefix = known_id[:prefix_length] if rng.random() < 0.7 else rng.randbytes(prefix_length)
        bounds.append((timestamp, prefix + bytes(32 - prefix_length), prefix))
    bounds.sort()  # by timestamp, then the zero-padded prefix: the protocol's order
    message, previous_timestamp = bytearray([0x61]), 0
    for timestamp, _, prefix in bounds:
        message += encode_varint(timestamp - previous_timestamp + 1) + encode_varint(len(prefix))
        message += prefix
        previous_timestamp = timestamp
        message += random_range_body(rng)
    if rng.random() < 0.7:
        message += b"\x00\x00" + random_range_body(rng)  # up to infinity
    return bytes(message)


def random_range_body(rng):
    mode = rng.choice((0, 1, 1, 2))
    body = encode_varint(mode)
    if mode == 1:
        body += rng.randbytes(16)
    elif mode == 2:
        ids = [
            rng.choice(DIFFERENTIAL_SET)[1] if rng.random() < 0.5 else rng.randbytes(32)
            for _ in range(rng.randrange(5))
        ]
        body += encode_varint(len(ids)) + b"".join(ids)
    return body


def check_differential_responder(commands, implementation, seed):
    rng = random.Random(f"negsync-differential:{seed}:{implementation}")
    set_input = b"".join(b"item,%d,%s\n" % (t, i.hex().encode()) for t, i in DIFFERENTIAL_SET)
    for number in range(DIFFERENTIAL_MESSAGES[implementation]):
        message = random_valid_message(rng)
        limit = rng.choice(("0", "4096"))
        stdin = set_input + b"seal\nmsg," + message.hex().encode() + b"\n"
        ours = run_harness(commands[implementation], stdin, limit)
        reference = run_harness(commands["crate"], stdin, limit)
        if ours[:2] != reference[:2]:
            raise Failure(
                f"message {number} (FRAMESIZELIMIT={limit}) {message.hex()}: {implementation} "
                f"exit {ours[0]} {ours[1][:120]!r} {ours[2][-300:]!r}, crate exit "
                f"{reference[0]} {reference[1][:120]!r}"
            )


def check_versions(command):
    status, out, err = run_harness(command, VERSION_ITEM + b"seal\n" + ID_LIST_QUERY)
    if status != 0 or out != EXPECTED_REPLY:
        raise Failure(f"V1 query: exit {status}, output {out[:200]!r}, stderr {err[-300:]!r}")
    status, out, err = run_harness(
        command, VERSION_ITEM + b"seal\nmsg,62aabbccddeeff\n" + ID_LIST_QUERY
    )
    if status != 0 or out != b"msg,61\n" + EXPECTED_REPLY:
        raise Failure(
            f"version 0x62, then the V1 query: exit {status}, output {out[:200]!r} (expected "
            f"msg,61 then the same reply as a fresh harness), stderr {err[-300:]!r}"
        )
    # An initiator cannot fall back: a responder speaking another version is an error.
    status, out, err = run_harness(command, VERSION_ITEM + b"seal\ninitiate\nmsg,62\n")
    if status == 0 or out.count(b"\n") != 1 or not out.startswith(b"msg,") or not err:
        raise Failure(f"initiator answered 0x62: exit {status}, output {out[:200]!r}")


def contract_checks():
    """(name, stdin, FRAMESIZELIMIT, lines printed before the failing one, negsync only?)"""
    item = VERSION_ITEM
    huge_line = b"msg,61000002" + b"ff" * 400_000 + b"\n"  # 400 kB, a truncated ID list
    return [
        ("unknown command", b"bogus\n", None, 0, False),
        ("item with a short ID", b"item,5,abcd\nseal\n", None, 0, False),
        ("item with a signed timestamp", b"item,-5," + b"00" * 32 + b"\nseal\n", None, 0, False),
        ("timestamp past 2^64-1", b"item,18446744073709551616," + b"00" * 32 + b"\n",
         None, 0, False),
        ("item after seal", b"seal\n" + item, None, 0, False),
        ("seal twice", b"seal\nseal\n", None, 0, False),
        ("initiate before seal", b"initiate\n", None, 0, False),
        ("msg before seal", b"msg,61\n", None, 0, False),
        ("msg without a field", b"seal\nmsg\n", None, 0, False),
        ("odd hex", b"seal\nmsg,610\n", None, 0, False),
        ("non-hex", b"seal\nmsg,6z\n", None, 0, False),
        ("FRAMESIZELIMIT 100, below every minimum", b"seal\n", "100", 0, False),
        ("FRAMESIZELIMIT not a number", b"seal\n", "4k", 0, False),
        ("initiate twice", b"seal\ninitiate\ninitiate\n", None, 1, False),
        # The crate reads a cut-short message as "everything matches"; negsync must refuse it.
        ("message ending inside a varint", b"seal\nmsg,6180\n", None, 0, True),
        ("message ending inside a range", b"seal\nmsg,610000\n", None, 0, True),
        ("empty message", b"seal\nmsg,\n", None, 0, False),
        ("the reserved timestamp 2^64-1", b"item,18446744073709551615," + b"00" * 32
         + b"\nseal\n", None, 0, True),
        ("a 800,000-digit line holding a cut-short ID list", b"seal\n" + huge_line,
         None, 0, True),
        ("msg after done", b"seal\ninitiate\nmsg,61\nmsg,61\n", None, 2, True),
    ]


def check_contract(command, stdin, frame_size_limit, lines_before):
    """The harness fails (exit status 1, a message on stderr) and prints nothing beyond the
    `lines_before` whole lines that the commands before the bad one owed."""
    status, out, err = run_harness(command, stdin, frame_size_limit)
    whole_lines_only = out.count(b"\n") == lines_before and (not out or out.endswith(b"\n"))
    # Exactly 1, as every harness documents: a crash (a signal) or a valgrind error (run with
    # another --error-exitcode) must not pass for the expected refusal.
    if status != 1 or not err.strip() or not whole_lines_only:
        raise Failure(
            f"expected a failure after {lines_before} output lines: exit {status}, output "
            f"{out[:200]!r}, stderr {err[-300:]!r}"
        )


# ---------------------------------------------------------------------------------------------
# The run.


class Results:
    def __init__(self):
        self.passed = 0
        self.failures = []
        self.lock = threading.Lock()

    def record(self, what, error=None):
        with self.lock:
            if error is None:
                self.passed += 1
            else:
                self.failures.append(f"{what}: {error}")
                print(f"FAIL {what}: {error}", flush=True)


def vector_check(commands, case, recorded, initiator, responder):
    outcome = run_exchange(commands, case, initiator, responder, keep_messages=True)
    check_result(case, initiator, outcome)
    if outcome.messages != recorded:
        first = next(
            (i for i, (sent, kept) in enumerate(zip(outcome.messages, recorded)) if sent != kept),
            min(len(outcome.messages), len(recorded)),
        )
        raise Failure(
            f"wire bytes differ from {case.description} at message {first} "
            f"({len(outcome.messages)} messages sent, {len(recorded)} recorded)"
        )


def regression_check(commands, case, check_messages, initiator, responder):
    outcome = run_exchange(commands, case, initiator, responder, keep_messages=True)
    check_result(case, initiator, outcome)
    check_messages(outcome.messages)


def fixed_checks(commands, pairings, vector_dir, seed, check_the_crate_harness=True):
    """Every check that does not depend on the seed, as (name, function raising Failure)."""
    checks = []
    tested = sorted({name for pairing in pairings for name in pairing})
    if not check_the_crate_harness:
        tested.remove("crate")
    for implementation in tested:
        command = commands[implementation]
        for name, stdin, limit, lines_before, negsync_only in contract_checks():
            if negsync_only and implementation not in NEGSYNC_IMPLEMENTATIONS:
                continue
            checks.append((
                f"contract [{implementation}] {name}",
                lambda c=command, i=stdin, f=limit, n=lines_before: check_contract(c, i, f, n),
            ))
        checks.append((f"versions [{implementation}]", lambda c=command: check_versions(c)))
        if implementation in NEGSYNC_IMPLEMENTATIONS:
            checks.append((
                f"differential responder [{implementation}] "
                f"{DIFFERENTIAL_MESSAGES[implementation]} random valid messages",
                lambda i=implementation: check_differential_responder(commands, i, seed),
            ))

    vector_paths = sorted(vector_dir.glob("*.vec"))
    if not vector_paths:
        raise SystemExit(f"interop: no transcript vectors in {vector_dir}")
    # crate -> crate too: the recorded bytes are the reference engine's own.
    for path in vector_paths:
        case, recorded = read_vector(path)
        for initiator, responder in pairings + [("crate", "crate")]:
            checks.append((
                f"{case.label} [{pairing_name((initiator, responder))}]",
                lambda c=case, r=recorded, i=initiator, o=responder: vector_check(
                    commands, c, r, i, o
                ),
            ))
    for case, check_messages in regression_cases():
        for initiator, responder in pairings:
            checks.append((
                f"{case.label} [{pairing_name((initiator, responder))}]",
                lambda c=case, m=check_messages, i=initiator, o=responder: regression_check(
                    commands, c, m, i, o
                ),
            ))
    return checks


def run_check(check):
    try:
        check()
        return None
    except Failure as error:
        return error


def run_random_case(commands, pairings, seed, index):
    """Every pairing on one case; returns [(pairing, outcome or None, error or None)]."""
    case = random_case(seed, index)
    runs = []
    for initiator, responder in pairings:
        try:
            outcome = run_exchange(commands, case, initiator, responder)
            check_result(case, initiator, outcome)
            runs.append(((initiator, responder), outcome, None))
        except Failure as error:
            runs.append(((initiator, responder), None, error))
    # All pairings run one engine over one pair of sets: the wire bytes must be the same.
    digests = {outcome.transcript_digest for _, outcome, _ in runs if outcome is not None}
    if len(digests) > 1:
        runs = [
            (pairing, None, Failure("wire bytes differ between pairings of this case"))
            if error is None
            else (pairing, outcome, error)
            for pairing, outcome, error in runs
        ]
    return case, runs


def pairing_name(pairing):
    names = {"c": "C", "python": "Python", "crate": "crate"}
    return f"{names[pairing[0]]} -> {names[pairing[1]]}"


def print_table(table):
    print()
    print("Random cases by frame limits (initiator/responder) and pairing (initiator -> "
          "responder);")
    print("rt = round trips; bytes are per exchange, initiator to responder and back")
    header = (
        f"{'limits':>13}  {'pairing':<16} {'cases':>5} {'pass':>5} {'rt mean':>8} {'rt max':>6} "
        f"{'to resp mean':>13} {'to resp max':>12} {'to init mean':>13} {'to init max':>12}"
    )
    print(header)
    print("-" * len(header))
    order = {pair: i for i, pair in enumerate(LIMIT_PAIRS)}
    for (limits, pairing), rows in sorted(
        table.items(), key=lambda entry: (order[entry[0][0]], PAIRINGS.index(entry[0][1]))
    ):
        outcomes = [outcome for outcome in rows if outcome is not None]
        if outcomes:
            trips = [o.round_trips for o in outcomes]
            to_responder = [o.bytes_to_responder for o in outcomes]
            to_initiator = [o.bytes_to_initiator for o in outcomes]
            numbers = (
                f"{statistics.mean(trips):8.2f} {max(trips):6d} "
                f"{statistics.mean(to_responder):13,.0f} {max(to_responder):12,d} "
                f"{statistics.mean(to_initiator):13,.0f} {max(to_initiator):12,d}"
            )
        else:
            numbers = "-"
        print(
            f"{limits[0]:>6}/{limits[1]:<6}  {pairing_name(pairing):<16} {len(rows):5d} "
            f"{len(outcomes):5d} {numbers}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20251125, help="seed of the random cases")
    parser.add_argument("--cases", type=int, default=200, help="number of random cases")
    parser.add_argument("--case", type=int, help="run only this random case (no fixed checks)")
    parser.add_argument("--fixed-only", action="store_true", help="no random cases")
    parser.add_argument(
        "--negsync",
        default=",".join(NEGSYNC_IMPLEMENTATIONS),
        help="which of negsync's harnesses to test (comma-separated: c, python)",
    )
    parser.add_argument(
        "--skip-crate-checks",
        action="store_true",
        help="skip the contract and version checks of the crate harness itself",
    )
    parser.add_argument(
        "--only", type=re.compile, help="run only the fixed checks whose name matches this regex"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--c-harness", default=str(REPO / "build" / "harness"))
    parser.add_argument(
        "--c-wrapper", default="", help="a command to run the C harness under, e.g. valgrind"
    )
    parser.add_argument(
        "--crate-harness", default=str(REPO / "target" / "release" / "examples" / "crate_harness")
    )
    parser.add_argument(
        "--python-harness", default=str(REPO / "bindings" / "python" / "examples" / "harness.py")
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for harness.py")
    parser.add_argument("--vectors", default=str(REPO / "tests" / "vectors"))
    parser.add_argument("--csv", help="write one row per random exchange to this file")
    args = parser.parse_args()

    tested = args.negsync.split(",")
    if not tested or not set(tested) <= set(NEGSYNC_IMPLEMENTATIONS):
        parser.error(f"--negsync takes some of {', '.join(NEGSYNC_IMPLEMENTATIONS)}")
    pairings = [pairing for pairing in PAIRINGS if set(pairing) & set(tested)]
    commands = {
        "c": shlex.split(args.c_wrapper) + [args.c_harness],
        "python": [args.python, args.python_harness],
        "crate": [args.crate_harness],
    }
    for path in (args.c_harness, args.crate_harness, args.python_harness):
        if not Path(path).is_file():
            sys.exit(f"interop: {path} does not exist (run `make interop`, which builds it)")

    started = time.monotonic()
    results = Results()
    if args.case is not None:
        checks, indices = [], [args.case]
    else:
        checks = fixed_checks(
            commands, pairings, Path(args.vectors), args.seed, not args.skip_crate_checks
        )
        if args.only:
            checks = [(what, check) for what, check in checks if args.only.search(what)]
            if not checks:
                parser.error(f"--only {args.only.pattern!r} matches no fixed check")
        indices = [] if args.fixed_only else range(args.cases)
    print(
        f"interop: {len(checks)} fixed checks, {len(indices)} random cases (seed {args.seed}) x "
        f"{len(pairings)} pairings; {args.jobs} at a time",
        flush=True,
    )

    table = {}
    csv_rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        fixed = {pool.submit(run_check, check): what for what, check in checks}
        for future in concurrent.futures.as_completed(fixed):
            results.record(fixed[future], future.result())
        fixed_failed = len(results.failures)
        if checks:
            print(f"fixed checks: {len(checks) - fixed_failed} passed, {fixed_failed} failed",
                  flush=True)
        futures = [pool.submit(run_random_case, commands, pairings, args.seed, i) for i in indices]
        for future in concurrent.futures.as_completed(futures):
            case, runs = future.result()
            for pairing, outcome, error in runs:
                what = f"{case.label} [{pairing_name(pairing)}]"
                if error is not None:
                    error = f"{error}\n    {case.description}\n    reproduce: {case.reproduce}"
                results.record(what, error)
                table.setdefault((case.limits, pairing), []).append(outcome)
                if outcome is not None:
                    csv_rows.append([case.label, case.limits[0], case.limits[1], *pairing,
                                     outcome.round_trips, outcome.bytes_to_responder,
                                     outcome.bytes_to_initiator, f"{outcome.seconds:.3f}",
                                     case.description])

    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["case", "initiator_limit", "responder_limit", "initiator",
                             "responder", "round_trips", "bytes_to_responder",
                             "bytes_to_initiator", "seconds", "description"])
            writer.writerows(sorted(csv_rows, key=lambda row: int(row[0].split()[1])))

    if table:
        print_table(table)
    print(f"\ninterop: {time.monotonic() - started:.1f} s")
    if results.failures:
        print(f"{len(results.failures)} failures, each printed above as FAIL")
    print(f"{results.passed} passed, {len(results.failures)} failed")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
