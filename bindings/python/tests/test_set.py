"""ItemSet: inserting one or many items, removing, counting, refusing bad input, closing."""

from typing import Any, Callable, Set, Tuple
import array
import ctypes

import pytest
from conftest import ids_of, make_set, run_exchange

import negsync
from negsync import _ffi


def ids_blob(count: int, start: int = 0) -> bytes:
    return b"".join(negsync.id_for_key(f"doc-{n}") for n in range(start, start + count))


def assert_invalid_argument(call: Callable[..., object], *args: Any) -> negsync.NegsyncError:
    with pytest.raises(negsync.NegsyncError) as caught:
        call(*args)
    assert caught.value.code == negsync.NEGSYNC_INVALID_ARGUMENT
    return caught.value


def assert_holds_exactly(item_set: negsync.ItemSet, expected: Set[Tuple[int, bytes]]) -> None:
    """The set holds exactly `expected`: its IDs, seen by reconciling against an empty set, and
    its timestamps, proved by removing each expected (timestamp, id) until nothing is left."""
    assert len(item_set) == len(expected)
    with negsync.ItemSet() as empty:
        exchange = run_exchange(item_set, empty)
    assert sorted(exchange.have_ids) == sorted(ids_of(expected))
    for timestamp, item_id in expected:
        item_set.remove(timestamp, item_id)
    assert len(item_set) == 0, "an item sat at another timestamp than the one it was given"


def test_insert_remove_and_len() -> None:
    first, second = negsync.id_for_key("a"), negsync.id_for_key("b")
    with negsync.ItemSet() as item_set:
        assert len(item_set) == 0
        item_set.insert(10, first)
        item_set.insert(10, first)  # already there
        item_set.insert(11, first)  # same id, other timestamp: another item
        item_set.insert(10, bytearray(second))
        assert len(item_set) == 3
        item_set.remove(11, first)
        item_set.remove(99, first)  # absent
        assert len(item_set) == 2
        item_set.remove(10, memoryview(second))
        assert len(item_set) == 1
        assert_holds_exactly(item_set, {(10, first)})


@pytest.mark.parametrize(
    "timestamps",
    [
        pytest.param(lambda n: list(range(n)), id="list"),
        pytest.param(lambda n: tuple(range(n)), id="tuple"),
        pytest.param(lambda n: range(n), id="range"),
        pytest.param(lambda n: array.array("Q", range(n)), id="array_Q"),
        pytest.param(lambda n: memoryview(array.array("Q", range(n))), id="memoryview_Q"),
        pytest.param(lambda n: memoryview(array.array("Q", range(n)).tobytes()).cast("Q"),
                     id="readonly_memoryview_Q"),
    ],
)
@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(lambda b: memoryview(bytearray(b)), id="memoryview_writable"),
        pytest.param(memoryview, id="memoryview_readonly"),
        pytest.param(lambda b: memoryview(b"xx" + b)[2:], id="memoryview_readonly_slice"),
        pytest.param(lambda b: memoryview(bytearray(b"x" + b))[1:], id="memoryview_unaligned"),
        pytest.param(lambda b: array.array("B", b), id="array_B"),
    ],
)
def test_insert_many_accepts_every_form(timestamps: Any, blob: Any) -> None:
    count = 300
    raw_ids = ids_blob(count)
    expected = {(n, raw_ids[32 * n : 32 * n + 32]) for n in range(count)}
    with negsync.ItemSet() as item_set:
        item_set.insert_many(timestamps(count), blob(raw_ids))
        assert_holds_exactly(item_set, expected)


@pytest.mark.parametrize("empty", [[], (), array.array("Q"), range(0)])
@pytest.mark.parametrize("blob", [b"", bytearray(), memoryview(b"")])
def test_insert_many_accepts_empty_input(empty: Any, blob: Any) -> None:
    with negsync.ItemSet() as item_set:
        item_set.insert_many(empty, blob)
        assert len(item_set) == 0


def test_insert_many_counts_distinct_items() -> None:
    raw_ids = ids_blob(3)
    with negsync.ItemSet() as item_set:
        item_set.insert_many([5, 5, 5, 6], raw_ids + raw_ids[:32])
        assert len(item_set) == 4
        item_set.insert_many([5, 6], raw_ids[:32] * 2)
        assert len(item_set) == 4


def test_insert_many_is_one_library_call_and_copies_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    count = 1000
    timestamps = array.array("Q", range(count))
    writable_ids = bytearray(ids_blob(count))
    readonly_ids = bytes(writable_ids)
    calls = []
    real_insert_many = _ffi.lib.negsync_set_insert_many

    def recording_insert_many(handle: Any, timestamp_array: Any, ids: Any, length: int) -> int:
        calls.append((timestamp_array, ids, length))
        result: int = real_insert_many(handle, timestamp_array, ids, length)
        return result

    def forbidden_insert(*args: Any) -> int:
        raise AssertionError("insert_many must not insert item by item")

    monkeypatch.setattr(_ffi.lib, "negsync_set_insert_many", recording_insert_many)
    monkeypatch.setattr(_ffi.lib, "negsync_set_insert", forbidden_insert)
    with negsync.ItemSet() as item_set:
        item_set.insert_many(timestamps, writable_ids)
        item_set.insert_many(list(range(count, 2 * count)), readonly_ids)
        assert len(item_set) == 2 * count

    assert len(calls) == 2
    (first_timestamps, first_ids, first_count), (_, second_ids, second_count) = calls
    assert first_count == second_count == count
    # The library read the caller's own memory: the array's buffer and the bytearray's buffer.
    assert ctypes.addressof(first_timestamps) == timestamps.buffer_info()[0]
    bytearray_address = ctypes.addressof((ctypes.c_char * 1).from_buffer(writable_ids))
    assert ctypes.addressof(first_ids) == bytearray_address
    assert second_ids is readonly_ids


def test_insert_many_aligns_timestamps_it_was_given_unaligned(monkeypatch: pytest.MonkeyPatch) -> None:
    # uint64_t must be 8-byte aligned in C (Rust's slice from an unaligned pointer is undefined
    # behaviour, even where x86 would read it fine), so a misaligned buffer is copied first.
    count = 10
    unaligned = memoryview(bytearray(b"x" + array.array("Q", range(count)).tobytes()))[1:]
    timestamps = unaligned.cast("Q")
    seen = []
    real_insert_many = _ffi.lib.negsync_set_insert_many

    def recording_insert_many(handle: Any, timestamp_array: Any, ids: Any, length: int) -> int:
        seen.append(ctypes.addressof(timestamp_array))
        result: int = real_insert_many(handle, timestamp_array, ids, length)
        return result

    monkeypatch.setattr(_ffi.lib, "negsync_set_insert_many", recording_insert_many)
    with negsync.ItemSet() as item_set:
        item_set.insert_many(timestamps, ids_blob(count))
        assert seen and seen[0] % 8 == 0
        assert_holds_exactly(item_set, {(n, negsync.id_for_key(f"doc-{n}")) for n in range(count)})


def test_insert_many_with_mismatched_lengths_is_refused() -> None:
    with negsync.ItemSet() as item_set:
        error = assert_invalid_argument(item_set.insert_many, [1, 2, 3], ids_blob(2))
        assert "96" in str(error)
        assert_invalid_argument(item_set.insert_many, [1], ids_blob(2))
        assert_invalid_argument(item_set.insert_many, [1], ids_blob(1)[:31])
        assert_invalid_argument(item_set.insert_many, [], b"\x00")
        assert len(item_set) == 0


def test_insert_many_is_all_or_nothing_on_the_reserved_timestamp() -> None:
    with negsync.ItemSet() as item_set:
        assert_invalid_argument(item_set.insert_many, [1, 2**64 - 1, 3], ids_blob(3))
        assert len(item_set) == 0


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_insert_many_refuses_timestamps_outside_uint64(bad: Any) -> None:
    with negsync.ItemSet() as item_set:
        assert_invalid_argument(item_set.insert_many, [1, bad], ids_blob(2))
        assert len(item_set) == 0


@pytest.mark.parametrize("timestamps", [b"\x01" * 16, bytearray(16)], ids=["bytes", "bytearray"])
def test_insert_many_refuses_bytes_as_timestamps(timestamps: Any) -> None:
    with negsync.ItemSet() as item_set:
        with pytest.raises(TypeError, match="byte buffer"):
            item_set.insert_many(timestamps, ids_blob(2))


@pytest.mark.parametrize("typecode", ["q", "I", "H", "l"])
def test_insert_many_reads_other_integer_arrays_as_sequences_of_ints(typecode: str) -> None:
    expected = {(n, negsync.id_for_key(f"doc-{n}")) for n in range(5)}
    with negsync.ItemSet() as item_set:
        item_set.insert_many(array.array(typecode, range(5)), ids_blob(5))
        assert_holds_exactly(item_set, expected)


def test_insert_many_refuses_negative_timestamps_in_a_signed_array() -> None:
    with negsync.ItemSet() as item_set:
        assert_invalid_argument(item_set.insert_many, array.array("q", [1, -1]), ids_blob(2))
        assert len(item_set) == 0


def test_insert_many_refuses_a_list_of_ids() -> None:
    with negsync.ItemSet() as item_set:
        with pytest.raises(TypeError):
            item_set.insert_many([1, 2], [negsync.id_for_key("a"), negsync.id_for_key("b")])  # type: ignore[arg-type]  # the wrong type is the test


def test_reserved_timestamp_is_refused_by_the_library() -> None:
    with negsync.ItemSet() as item_set:
        assert_invalid_argument(item_set.insert, 2**64 - 1, negsync.id_for_key("a"))
        item_set.insert(2**64 - 2, negsync.id_for_key("a"))
        assert len(item_set) == 1


@pytest.mark.parametrize("bad", [-1, 2**64, 2**70])
def test_timestamps_outside_uint64_are_refused_not_wrapped(bad: Any) -> None:
    with negsync.ItemSet() as item_set:
        assert_invalid_argument(item_set.insert, bad, negsync.id_for_key("a"))
        assert_invalid_argument(item_set.remove, bad, negsync.id_for_key("a"))
        assert len(item_set) == 0


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_ids_must_be_exactly_32_bytes(length: int) -> None:
    with negsync.ItemSet() as item_set:
        error = assert_invalid_argument(item_set.insert, 1, b"\x01" * length)
        assert "32 bytes" in str(error)
        assert_invalid_argument(item_set.remove, 1, b"\x01" * length)
        assert len(item_set) == 0


def test_wrong_types_are_type_errors() -> None:
    with negsync.ItemSet() as item_set:
        with pytest.raises(TypeError):
            item_set.insert(1, "x" * 32)  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(TypeError):
            item_set.insert(1.5, b"x" * 32)  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(TypeError):
            item_set.insert_many([1.5], b"x" * 32)  # type: ignore[list-item]  # the wrong type is the test


def test_closed_set_raises_value_error() -> None:
    item_set = negsync.ItemSet()
    item_set.close()
    item_set.close()  # idempotent
    assert item_set.closed
    for use in (
        lambda: item_set.insert(1, b"x" * 32),
        lambda: item_set.insert_many([1], b"x" * 32),
        lambda: item_set.remove(1, b"x" * 32),
        lambda: len(item_set),
        lambda: negsync.Session(item_set),
    ):
        with pytest.raises(ValueError, match="closed ItemSet"):
            use()
    assert "closed" in repr(item_set)


def test_context_manager_closes() -> None:
    with negsync.ItemSet() as item_set:
        item_set.insert(1, b"x" * 32)
        assert "items=1" in repr(item_set)
    assert item_set.closed


def test_many_sets_and_sessions_are_freed_by_the_garbage_collector() -> None:
    # The __del__ safety net: abandoned objects free their handles instead of leaking or
    # crashing when the interpreter collects them.
    for round_number in range(200):
        item_set = make_set({(round_number, negsync.id_for_key(str(round_number)))})
        session = negsync.Session(item_set)
        session.initiate()
        del item_set, session


def test_reserve_makes_room_without_changing_the_set() -> None:
    with negsync.ItemSet() as item_set:
        item_set.reserve(1000)
        assert len(item_set) == 0
        item_set.insert(1, bytes(32))
        assert len(item_set) == 1
        with pytest.raises(negsync.NegsyncError):
            item_set.reserve(-1)
