"""Two peers, Alice and Bob, reconcile their document sets in one process.

Run from the repository root after `make lib` (cargo rustc --release --lib --crate-type cdylib,staticlib):

    python3 bindings/python/examples/two_peers.py

Each document is one item: its own timestamp (not the time of the sync) and an ID derived from
its key and version, so a changed document gets a new ID. Alice initiates; messages go back and
forth until Alice's session has nothing more to send. Then Alice knows what she must send to Bob
and what she must fetch from him; Bob's lists are the same two, seen from his side.
"""

from typing import Dict, List, Optional, Sequence, Tuple
import sys
from pathlib import Path

# Lets the example run straight from a checkout: the package sits next to this directory.
_SOURCE_TREE = Path(__file__).resolve().parent.parent
if (_SOURCE_TREE / "negsync" / "__init__.py").is_file():
    sys.path.insert(0, str(_SOURCE_TREE))

import negsync  # noqa: E402

Document = Tuple[int, bytes, str]

FRAME_SIZE_LIMIT = 4096  # the smallest the protocol allows; bigger differences take more rounds
SHARED_READINGS = 3000
EPOCH = 1_700_000_000


def document(key: str, version: str, timestamp: int) -> Document:
    """A document as the set sees it: (timestamp, id), plus its name for printing."""
    return timestamp, negsync.id_for_version(key, version), f"{key} ({version})"


def build_peer(name: str, documents: List[Document]) -> Tuple[negsync.ItemSet, Dict[bytes, str]]:
    """An ItemSet holding the shared sensor readings (inserted in one bulk call) and the
    peer's own documents; also returns id -> printable name for the report."""
    item_set = negsync.ItemSet()
    reading_keys = [f"readings::{n}" for n in range(SHARED_READINGS)]
    item_set.insert_many(
        [EPOCH + n for n in range(SHARED_READINGS)],
        b"".join(negsync.id_for_version(key, "v1") for key in reading_keys),
    )
    names: Dict[bytes, str] = {}
    for timestamp, item_id, label in documents:
        item_set.insert(timestamp, item_id)
        names[item_id] = label
    print(f"{name} holds {len(item_set)} documents")
    return item_set, names


def print_ids(title: str, ids: Sequence[bytes], names: Dict[bytes, str]) -> None:
    print(f"{title}: {len(ids)}")
    for item_id in sorted(ids, key=lambda i: names.get(i, "")):
        print(f"    {names.get(item_id, '?'):<32} id {item_id.hex()[:16]}...")


def main() -> None:
    print(f"negsync {negsync.__version__}\n")

    alice_documents = [
        document("nodes::node-1", "v1", EPOCH + 10),
        document("nodes::node-2", "v1", EPOCH + 20),  # Bob has a newer version
        document("notes::alice-todo", "v1", EPOCH + 30),
        document("notes::groceries", "v3", EPOCH + 40),
    ]
    bob_documents = [
        document("nodes::node-1", "v1", EPOCH + 10),
        document("nodes::node-2", "v2", EPOCH + 25),
        document("notes::bob-ideas", "v1", EPOCH + 35),
        document("maps::tile-7", "v5", EPOCH + 50),
    ]
    alice_set, alice_names = build_peer("Alice", alice_documents)
    bob_set, bob_names = build_peer("Bob", bob_documents)
    print(f"({SHARED_READINGS} sensor readings are identical on both)\n")

    with alice_set, bob_set:
        alice = negsync.Session(alice_set, frame_size_limit=FRAME_SIZE_LIMIT)
        bob = negsync.Session(bob_set, frame_size_limit=FRAME_SIZE_LIMIT)
    # The sessions hold their own snapshots, so the sets could be closed already.

    with alice, bob:
        print(f"Alice initiates; both sides cap messages at {FRAME_SIZE_LIMIT} bytes")
        to_bob: Optional[bytes] = alice.initiate()
        round_trip = 0
        while to_bob is not None:
            round_trip += 1
            to_alice = bob.reconcile(to_bob)
            assert to_alice is not None, "a responder always answers"
            print(
                f"  round trip {round_trip}: Alice -> Bob {len(to_bob):5} bytes, "
                f"Bob -> Alice {len(to_alice):5} bytes"
            )
            to_bob = alice.reconcile(to_alice)
        print(f"Alice is done (complete: {alice.is_complete})\n")

        alice_sends = alice.have_ids
        alice_fetches = alice.need_ids

    print_ids("Alice must send to Bob (she has them, he lacks them)", alice_sends, alice_names)
    print_ids("Alice must fetch from Bob (he has them, she lacks them)", alice_fetches, bob_names)
    print()
    # Only the initiator learns the differences; Alice tells Bob which IDs she wants and
    # which she is about to push, so Bob's two lists are hers mirrored.
    print_ids("Bob must send to Alice", alice_fetches, bob_names)
    print_ids("Bob must fetch from Alice", alice_sends, alice_names)
    print("\n(nodes::node-2 differs in version, so each side lacks the other's; the application")
    print(" decides which version wins and removes the loser from its set.)")


if __name__ == "__main__":
    main()
