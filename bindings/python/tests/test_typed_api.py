"""What issue 12 added to the Python API: ItemSet membership and iteration (over the C ABI's
negsync_set_contains and negsync_set_copy_items), one exception class per result code, and
have/need lists copied out once."""

import ctypes
import random
import threading
from typing import List, Optional, Tuple

import pytest

from conftest import expect_message

import negsync
from negsync import _ffi


def make_set(items: List[Tuple[int, bytes]]) -> negsync.ItemSet:
    item_set = negsync.ItemSet()
    for timestamp, item_id in items:
        item_set.insert(timestamp, item_id)
    return item_set


def test_iteration_yields_sorted_pairs() -> None:
    rng = random.Random(12)
    items = [(rng.randrange(0, 50), rng.randbytes(32)) for _ in range(300)]
    with make_set(items) as item_set:
        assert list(item_set) == sorted(set(items))
        assert item_set.items() == sorted(set(items))
        item_set.remove(*items[0])
        assert list(item_set) == sorted(set(items) - {items[0]})
    with negsync.ItemSet() as empty:
        assert list(empty) == [] and empty.items() == []


def test_membership_asks_for_the_exact_item() -> None:
    item_id = b"\x07" * 32
    with make_set([(5, item_id)]) as item_set:
        assert (5, item_id) in item_set
        assert (5, bytearray(item_id)) in item_set
        assert (6, item_id) not in item_set  # the same ID at another timestamp
        assert (5, b"\x08" * 32) not in item_set
        # Anything that is not a (timestamp, 32-byte id) pair is simply absent.
        for other in [item_id, (5,), (5, item_id[:31]), (-1, item_id), (2**64, item_id),
                      ("5", item_id), (5, "x" * 32), None]:
            assert other not in item_set


def test_copy_items_pages_and_reports_the_total() -> None:
    items = [(i, bytes([i]) * 32) for i in range(10)]
    with make_set(items) as item_set:
        timestamps = (ctypes.c_uint64 * 4)()
        ids = ctypes.create_string_buffer(4 * 32)
        copied, total = ctypes.c_size_t(), ctypes.c_size_t()
        _ffi.lib.negsync_set_copy_items(item_set._live_handle(), 8, timestamps, ids, 4,
                                        ctypes.byref(copied), ctypes.byref(total))
        assert (copied.value, total.value) == (2, 10)
        assert list(timestamps[:2]) == [8, 9] and ids.raw[:64] == bytes([8]) * 32 + bytes([9]) * 32
        # Capacity 0 with NULL buffers: only the total.
        _ffi.lib.negsync_set_copy_items(item_set._live_handle(), 0, None, None, 0,
                                        ctypes.byref(copied), ctypes.byref(total))
        assert (copied.value, total.value) == (0, 10)
        with pytest.raises(negsync.NullParameter):
            _ffi.lib.negsync_set_copy_items(item_set._live_handle(), 0, None, None, 1,
                                            ctypes.byref(copied), ctypes.byref(total))
        with pytest.raises(negsync.InvalidArgument):
            _ffi.lib.negsync_set_copy_items(item_set._live_handle(), 0, timestamps, ids,
                                            2**64 // 32, ctypes.byref(copied), ctypes.byref(total))


def test_items_is_consistent_while_another_thread_inserts() -> None:
    with negsync.ItemSet() as item_set:
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                item_set.insert(i, i.to_bytes(32, "big"))
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for _ in range(50):
                snapshot = item_set.items()
                # Inserted in order, so any consistent state is a prefix 0..n-1.
                assert [t for t, _ in snapshot] == list(range(len(snapshot)))
        finally:
            stop.set()
            thread.join()


@pytest.mark.parametrize("code,cls", sorted(negsync.errors.ERROR_CLASSES.items()))
def test_every_code_has_its_own_exception_class(code: int, cls: type) -> None:
    assert issubclass(cls, negsync.NegsyncError) and cls is not negsync.NegsyncError
    assert getattr(negsync, cls.__name__) is cls
    error = _ffi.error(code, "somewhere")
    assert type(error) is cls and error.code == code
    assert negsync.errors.RESULT_NAMES[code] == error.name


def test_library_errors_raise_their_subclass() -> None:
    with negsync.ItemSet() as item_set, negsync.Session(item_set) as responder:
        with pytest.raises(negsync.MalformedMessage) as caught:
            responder.reconcile(b"\x61\xff\xff")
        assert caught.value.code == negsync.NEGSYNC_MALFORMED_MESSAGE and caught.value.detail
        with pytest.raises(negsync.WrongState):
            responder.reconcile(b"\x61")
        with pytest.raises(negsync.InvalidArgument):
            item_set.insert(2**64 - 1, b"\x00" * 32)
    assert len({cls for cls in negsync.errors.ERROR_CLASSES.values()}) == 9


def test_have_ids_are_copied_out_once() -> None:
    rng = random.Random(3)
    mine = [(rng.randrange(1000), rng.randbytes(32)) for _ in range(500)]
    theirs = [(rng.randrange(1000), rng.randbytes(32)) for _ in range(500)]
    with make_set(mine) as a, make_set(theirs) as b:
        with negsync.Session(a) as initiator, negsync.Session(b) as responder:
            message: Optional[bytes] = initiator.initiate()
            seen: List[Tuple[bytes, ...]] = []
            while message is not None:
                message = initiator.reconcile(expect_message(responder.reconcile(message)))
                have = initiator.have_ids
                assert seen == [] or have[: len(seen[-1])] == seen[-1]  # only grows
                seen.append(have)
            assert initiator.have_ids is initiator.have_ids  # nothing new: the same tuple
            assert initiator.need_ids is initiator.need_ids
            assert set(initiator.have_ids) == {i for _, i in mine}
            assert set(initiator.need_ids) == {i for _, i in theirs}
