"""Shared pieces of the Python suite: the import path, a pure-Python reference of what a
reconciliation must find, a reader for Negentropy V1 messages, and a driver that runs a whole
exchange between two sessions while checking every message it passes along.

Run from the repository root: python3 -m pytest -q bindings/python/tests
"""

import random
import sys
from typing import Iterable, List, Optional, Sequence, Set, Tuple
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PYTHON_DIR.parent.parent
# The suite tests this source tree, not some copy that pip may have installed elsewhere.
sys.path.insert(0, str(PYTHON_DIR))

import negsync  # noqa: E402

ID_SIZE = 32

Item = Tuple[int, bytes]
Items = Set[Item]


# --- Random items ----------------------------------------------------------------------------


def random_items(
    rng: random.Random, count: int, timestamps: Optional[Sequence[int]] = None
) -> Items:
    """`count` distinct (timestamp, id) pairs; timestamps drawn from `timestamps` (a range)."""
    timestamps = timestamps if timestamps is not None else range(0, 1_000_000)
    items: Items = set()
    while len(items) < count:
        items.add((rng.choice(timestamps), rng.randbytes(ID_SIZE)))
    return items


def overlapping_sets(
    seed: int,
    shared: int,
    only_initiator: int,
    only_responder: int,
    timestamps: Optional[Sequence[int]] = None,
) -> Tuple[Items, Items]:
    """Two sets with `shared` common items and the given numbers of items only one side has."""
    rng = random.Random(seed)
    everything = list(random_items(rng, shared + only_initiator + only_responder, timestamps))
    rng.shuffle(everything)
    common = everything[:shared]
    mine = everything[shared : shared + only_initiator]
    theirs = everything[shared + only_initiator :]
    return set(common + mine), set(common + theirs)


def make_set(items: Iterable[Item]) -> negsync.ItemSet:
    """An ItemSet holding `items`, inserted with one bulk call."""
    item_set = negsync.ItemSet()
    ordered = list(items)
    item_set.insert_many([ts for ts, _ in ordered], b"".join(item_id for _, item_id in ordered))
    return item_set


def ids_of(items: Iterable[Item]) -> Set[bytes]:
    return {item_id for _, item_id in items}


def expect_message(message: Optional[bytes]) -> bytes:
    """A message the protocol promises to be there (a responder's reply, the next message of an
    initiator that is not done): fails the test if it is None."""
    assert message is not None, "expected a message to send"
    return message


# --- Reading V1 messages ---------------------------------------------------------------------


class MessageReader:
    """Reads Negentropy V1 exactly as the protocol writes it; only for checking the library."""

    def __init__(self, message: bytes) -> None:
        self.message = message
        self.offset = 0

    def take(self, length: int) -> bytes:
        if self.offset + length > len(self.message):
            raise ValueError(f"message ends inside a field at {self.offset}")
        chunk = self.message[self.offset : self.offset + length]
        self.offset += length
        return chunk

    def varint(self) -> int:
        value = 0
        while True:
            byte = self.take(1)[0]
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                return value


@dataclass
class MessageSummary:
    """Ranges of each mode in one message, and the IDs its ID lists carry."""

    skip: int = 0
    fingerprint: int = 0
    id_list: int = 0
    ids: List[bytes] = field(default_factory=list)


def summarize(message: bytes) -> MessageSummary:
    """Splits a V1 message into its ranges (raises ValueError if it does not parse)."""
    reader = MessageReader(message)
    if reader.take(1) != b"\x61":
        raise ValueError("not a V1 message")
    summary = MessageSummary()
    while reader.offset < len(message):
        reader.varint()  # timestamp delta of the range's upper bound
        reader.take(reader.varint())  # the bound's ID prefix
        mode = reader.varint()
        if mode == 0:
            summary.skip += 1
        elif mode == 1:
            reader.take(16)
            summary.fingerprint += 1
        elif mode == 2:
            count = reader.varint()
            summary.ids.extend(reader.take(ID_SIZE) for _ in range(count))
            summary.id_list += 1
        else:
            raise ValueError(f"unknown mode {mode}")
    return summary


# --- Running an exchange ---------------------------------------------------------------------


@dataclass
class Exchange:
    """What one whole exchange produced, read from the initiator once it finished."""

    have_ids: Tuple[bytes, ...]
    need_ids: Tuple[bytes, ...]
    round_trips: int
    initiator_messages: List[bytes]
    responder_messages: List[bytes]
    responder_completed: bool


def check_frame(message: bytes, limit: int, sender: str) -> None:
    if limit:
        assert len(message) <= limit, f"{sender} sent {len(message)} bytes over its limit {limit}"


def run_exchange(
    initiator_set: negsync.ItemSet,
    responder_set: negsync.ItemSet,
    initiator_frame: int = 0,
    responder_frame: int = 0,
    initiator_limits: Optional[negsync.Limits] = None,
    responder_limits: Optional[negsync.Limits] = None,
    max_round_trips: int = 10_000,
) -> Exchange:
    """Runs initiator and responder to the end, checking on every message that:
    each message fits its sender's frame limit and parses as V1; the responder always replies
    and is complete exactly when its reply holds no fingerprint range; after a complete
    responder the initiator has nothing more to send; the initiator is complete exactly when
    its reconcile returns None."""
    with negsync.Session(initiator_set, initiator_frame, limits=initiator_limits) as initiator, \
            negsync.Session(responder_set, responder_frame, limits=responder_limits) as responder:
        first = initiator.initiate()
        to_responder: Optional[bytes] = first
        initiator_messages: List[bytes] = [first]
        responder_messages: List[bytes] = []
        round_trips = 0
        while to_responder is not None:
            assert round_trips < max_round_trips, "the exchange does not end"
            check_frame(to_responder, initiator_frame, "initiator")
            summarize(to_responder)
            assert not responder.is_complete

            reply = responder.reconcile(to_responder)
            round_trips += 1
            assert reply is not None, "a responder always answers a V1 message"
            check_frame(reply, responder_frame, "responder")
            responder_messages.append(reply)
            assert responder.is_complete == (summarize(reply).fingerprint == 0)

            to_responder = initiator.reconcile(reply)
            assert initiator.is_complete == (to_responder is None)
            if responder.is_complete:
                assert to_responder is None, "the responder finished but the initiator went on"
            if to_responder is not None:
                initiator_messages.append(to_responder)

        return Exchange(
            have_ids=initiator.have_ids,
            need_ids=initiator.need_ids,
            round_trips=round_trips,
            initiator_messages=initiator_messages,
            responder_messages=responder_messages,
            responder_completed=responder.is_complete,
        )


def assert_exact_differences(exchange: Exchange, initiator_items: Items, responder_items: Items) -> None:
    """have == A \\ B and need == B \\ A, by ID, with every ID reported once."""
    assert len(exchange.have_ids) == len(set(exchange.have_ids)), "an ID was reported twice"
    assert len(exchange.need_ids) == len(set(exchange.need_ids)), "an ID was reported twice"
    assert all(len(item_id) == ID_SIZE for item_id in exchange.have_ids + exchange.need_ids)
    assert set(exchange.have_ids) == ids_of(initiator_items - responder_items)
    assert set(exchange.need_ids) == ids_of(responder_items - initiator_items)


@pytest.fixture
def rng() -> random.Random:
    """A seeded random source, so a failure can be replayed."""
    return random.Random(20240611)
