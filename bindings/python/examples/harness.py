"""One side of a Negentropy exchange over the negsync Python package, driven over stdin/stdout
in the line protocol of the Negentropy reference test suite (the same as
bindings/c/examples/harness.c), so that the Python path is tested exactly like the C one.

Run from the repository root after `make lib` (cargo rustc --release --lib --crate-type cdylib,staticlib):

    FRAMESIZELIMIT=4096 python3 bindings/python/examples/harness.py < commands

Input, one command per LF-terminated line (fields separated by commas, hex in either case):
  item,<timestamp>,<64 hex>   add an item (before seal)
  seal                        end the set; the session is created here
  initiate                    become the initiator: prints msg,<hex>
  msg,<hex>                   a message from the peer. The initiator prints have,<hex> for each
                              ID newly found that we hold and the peer lacks, then need,<hex> for
                              each newly found that the peer holds, then `done` or the next
                              msg,<hex>. The responder prints exactly one msg,<hex>.
Empty lines are ignored; output hex is lowercase; stdout is flushed after every msg and done.
FRAMESIZELIMIT (decimal; unset, empty or 0 for none) bounds every message this side sends.

Any error: one line on stderr, exit status 1, nothing more on stdout.
"""

import array
import os
import sys
from pathlib import Path
from typing import List, Optional

# Lets the harness run straight from a checkout: the package sits next to this directory.
_SOURCE_TREE = Path(__file__).resolve().parent.parent
if (_SOURCE_TREE / "negsync" / "__init__.py").is_file():
    sys.path.insert(0, str(_SOURCE_TREE))

import negsync  # noqa: E402

_DIGITS = frozenset(b"0123456789")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class HarnessError(Exception):
    """A line the harness cannot act on."""


def parse_u64(text: bytes, what: str) -> int:
    """Digits only (int() would also take a sign, spaces and underscores)."""
    if not text or not _DIGITS.issuperset(text):
        raise HarnessError(f"{what} is not a decimal number")
    value = int(text)
    if value >= 1 << 64:
        raise HarnessError(f"{what} does not fit in 64 bits")
    return value


def decode_hex(text: bytes, what: str) -> bytes:
    if len(text) % 2 != 0:
        raise HarnessError(f"{what}: odd number of hex digits ({len(text)})")
    # bytes.fromhex would skip spaces; the protocol has none.
    if not _HEX_DIGITS.issuperset(text):
        raise HarnessError(f"{what}: not hex")
    return bytes.fromhex(text.decode("ascii"))


class Harness:
    def __init__(self, frame_size_limit: int) -> None:
        self.frame_size_limit = frame_size_limit
        # Items are gathered here and added in one insert_many call at seal.
        self.timestamps: Optional["array.array[int]"] = array.array("Q")
        self.ids: Optional[bytearray] = bytearray()
        self.session: Optional[negsync.Session] = None
        self.initiated = False
        # negsync accumulates have/need over all rounds; each round prints only what it added.
        self.have_printed = 0
        self.need_printed = 0

    def run_line(self, line: bytes) -> str:
        """Returns the output of one input line (printed only once the line has succeeded)."""
        if not line:
            return ""
        fields = line.split(b",")
        command = fields[0]
        if command == b"item" and len(fields) == 3:
            return self.item(fields[1], fields[2])
        if command == b"seal" and len(fields) == 1:
            return self.seal()
        if command == b"initiate" and len(fields) == 1:
            return self.initiate()
        if command == b"msg" and len(fields) == 2:
            return self.message(fields[1])
        raise HarnessError(
            "expected item,<timestamp>,<64 hex> | seal | initiate | msg,<hex>; got "
            + repr(line[:80].decode("ascii", "replace"))
        )

    def item(self, timestamp_text: bytes, id_hex: bytes) -> str:
        if self.session is not None or self.ids is None or self.timestamps is None:
            raise HarnessError("item after seal")
        timestamp = parse_u64(timestamp_text, "timestamp")
        if len(id_hex) != 2 * negsync.NEGSYNC_ID_SIZE:
            raise HarnessError(f"an ID is 64 hex digits, not {len(id_hex)}")
        self.ids += decode_hex(id_hex, "item ID")
        self.timestamps.append(timestamp)
        return ""

    def seal(self) -> str:
        if self.session is not None or self.ids is None or self.timestamps is None:
            raise HarnessError("seal twice")
        with negsync.ItemSet() as item_set:
            item_set.insert_many(self.timestamps, self.ids)
            self.session = negsync.Session(item_set, frame_size_limit=self.frame_size_limit)
        self.timestamps, self.ids = None, None
        return ""

    def live_session(self) -> negsync.Session:
        if self.session is None:
            raise HarnessError("the set is not sealed yet")
        return self.session

    def check_frame_limit(self, message: bytes) -> None:
        if self.frame_size_limit and len(message) > self.frame_size_limit:
            raise HarnessError(
                f"our message of {len(message)} bytes exceeds FRAMESIZELIMIT "
                f"{self.frame_size_limit}"
            )

    def initiate(self) -> str:
        message = self.live_session().initiate()
        self.initiated = True
        self.check_frame_limit(message)
        return f"msg,{message.hex()}\n"

    def message(self, hex_text: bytes) -> str:
        session = self.live_session()
        reply = session.reconcile(decode_hex(hex_text, "message"))
        if not self.initiated:
            if reply is None:
                raise HarnessError("negsync broke its promise: the responder has no reply")
            self.check_frame_limit(reply)
            return f"msg,{reply.hex()}\n"
        if reply is not None:
            self.check_frame_limit(reply)
        # The lists are fetched whole, so only when the counts say that this round added to them:
        # a frame-limited exchange may take hundreds of rounds that each find nothing.
        stats = session.stats
        lines: List[str] = []
        if stats.have_count > self.have_printed:
            lines += [f"have,{id.hex()}\n" for id in session.have_ids[self.have_printed :]]
            self.have_printed = stats.have_count
        if stats.need_count > self.need_printed:
            lines += [f"need,{id.hex()}\n" for id in session.need_ids[self.need_printed :]]
            self.need_printed = stats.need_count
        lines.append("done\n" if reply is None else f"msg,{reply.hex()}\n")
        return "".join(lines)


def frame_size_limit_from_environment() -> int:
    text = os.environ.get("FRAMESIZELIMIT", "")
    if not text:
        return 0
    limit = parse_u64(text.encode("ascii", "replace"), f"FRAMESIZELIMIT={text}")
    # Let the library judge the value now, so that a bad one fails before any input.
    try:
        with negsync.ItemSet() as empty, negsync.Session(empty, frame_size_limit=limit):
            pass
    except negsync.NegsyncError as error:
        raise HarnessError(f"FRAMESIZELIMIT={text} refused: {error}") from None
    return limit


def main() -> int:
    if len(sys.argv) > 1:
        print(f"usage: {sys.argv[0]} < commands (see the module docstring)", file=sys.stderr)
        return 2
    line_number = 0
    try:
        harness = Harness(frame_size_limit_from_environment())
        for raw_line in sys.stdin.buffer:
            line_number += 1
            output = harness.run_line(raw_line.removesuffix(b"\n"))
            if output:
                sys.stdout.write(output)
                sys.stdout.flush()
    except (HarnessError, negsync.NegsyncError) as error:
        where = f"input line {line_number}: " if line_number else ""
        print(f"harness.py: {where}{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
