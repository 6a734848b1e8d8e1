"""negsync benchmark, Python face: the same exchanges and set builds as benches/suite (Rust) and
bindings/c/bench/bench.c, on the same data file, through the negsync package (ctypes).

    python3 bench.py exchange FILE LIMIT REPS WARMUPS
                                                REPS whole exchanges (both sides, every round)
                                                after WARMUPS unrecorded ones
    python3 bench.py build FILE REPS            S4: side A built by ItemSet.insert_many (+ the seal)
    python3 bench.py build-loop FILE REPS       S4: the same by a per-item ItemSet.insert loop

Prints one JSON line per measurement (the format of benches/suite/record.rs); benches/run.py
collects them. The data file is written by `suite generate` (layout in benches/suite/data.rs).
Standard library only: the bench must run where the package runs.
"""

import array
import json
import struct
import sys
import time
from pathlib import Path

# The package from this checkout, whatever is installed elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import negsync  # noqa: E402

ID_SIZE = 32
MAGIC = b"NSBENCH1"


class Side:
    """One peer's items in insert_many layout: an array('Q') of timestamps and one ID blob."""

    def __init__(self, timestamps, ids):
        self.timestamps = timestamps
        self.ids = ids

    def __len__(self):
        return len(self.timestamps)


def read_pair(path):
    with open(path, "rb") as file:
        data = file.read()
    if data[:8] != MAGIC:
        sys.exit(f"bench: {path} is not a negsync bench data file")
    count_a, count_b = struct.unpack_from("<QQ", data, 8)
    offset = 24
    sides = []
    for count in (count_a, count_b):
        timestamps = array.array("Q")
        timestamps.frombytes(data[offset : offset + 8 * count])
        if sys.byteorder == "big":
            timestamps.byteswap()  # the file is little-endian
        offset += 8 * count
        ids = data[offset : offset + ID_SIZE * count]
        offset += ID_SIZE * count
        sides.append(Side(timestamps, ids))
    return sides


def build_set(side):
    """insert_many, then len(), which seals the set into its snapshot (as the C bench does)."""
    item_set = negsync.ItemSet()
    item_set.insert_many(side.timestamps, side.ids)
    if len(item_set) == 0 and len(side) != 0:
        sys.exit("bench: set is empty after insert_many")
    return item_set


def id_checksum(ids):
    """The wrapping sum of each ID's first eight bytes, little-endian (as every face computes)."""
    return sum(int.from_bytes(id_[:8], "little") for id_ in ids) % 2**64


def run_exchange(set_a, set_b, limit):
    started = time.perf_counter()
    initiator = negsync.Session(set_a, limit)
    responder = negsync.Session(set_b, limit)
    message = initiator.initiate()
    round_trips = to_responder = to_initiator = 0
    while True:
        to_responder += len(message)
        reply = responder.reconcile(message)
        to_initiator += len(reply)
        round_trips += 1
        message = initiator.reconcile(reply)
        if message is None:
            break
    have = initiator.have_ids
    need = initiator.need_ids
    seconds = time.perf_counter() - started
    initiator.close()
    responder.close()
    return {
        "seconds": seconds,
        "round_trips": round_trips,
        "bytes_to_responder": to_responder,
        "bytes_to_initiator": to_initiator,
        "have": len(have),
        "need": len(need),
        "have_checksum": id_checksum(have),
        "need_checksum": id_checksum(need),
    }


def emit(record):
    print(json.dumps(record), flush=True)


def exchange(path, limit, reps, warmups):
    side_a, side_b = read_pair(path)
    set_a, set_b = build_set(side_a), build_set(side_b)
    del side_a, side_b
    for _ in range(warmups):  # as in the Rust and C benches: the first one also grows the heap
        run_exchange(set_a, set_b, limit)
    for _ in range(reps):
        outcome = run_exchange(set_a, set_b, limit)
        emit(
            {"kind": "exchange", "variant": "python", "file": path, "frame_limit": limit, **outcome}
        )


def emit_build(method, seconds, items, distinct):
    emit(
        {
            "kind": "build",
            "variant": "python",
            "method": method,
            "seconds": seconds,
            "items": items,
            "distinct": distinct,
        }
    )


def build(path, reps):
    side = read_pair(path)[0]
    for _ in range(reps):
        started = time.perf_counter()
        item_set = build_set(side)
        seconds = time.perf_counter() - started
        emit_build("insert_many", seconds, len(side), len(item_set))
        item_set.close()


def build_loop(path, reps):
    """The per-item loop a user writes when each document's (timestamp, id) arrives on its own:
    the items are prepared as Python ints and 32-byte bytes beforehand, untimed."""
    side = read_pair(path)[0]
    items = [
        (timestamp, side.ids[ID_SIZE * i : ID_SIZE * (i + 1)])
        for i, timestamp in enumerate(side.timestamps)
    ]
    for _ in range(reps):
        started = time.perf_counter()
        item_set = negsync.ItemSet()
        insert = item_set.insert
        for timestamp, id_ in items:
            insert(timestamp, id_)
        distinct = len(item_set)
        seconds = time.perf_counter() - started
        emit_build("insert_loop", seconds, len(items), distinct)
        item_set.close()


def main(argv):
    if len(argv) == 6 and argv[1] == "exchange":
        exchange(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif len(argv) == 4 and argv[1] == "build":
        build(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "build-loop":
        build_loop(argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
