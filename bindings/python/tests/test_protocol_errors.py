"""Messages a peer must not get away with, version negotiation, and calls out of order."""

from typing import Any, Callable, Iterator, Optional
import random
import pytest
from conftest import make_set, random_items, expect_message

import negsync
from negsync import _ffi

MALFORMED = {
    "truncated_varint": b"\x61\x80",
    "bound_without_prefix_length": b"\x61\x00",
    "bound_without_mode": b"\x61\x00\x00",
    "unknown_mode": b"\x61\x00\x00\x03",
    "prefix_of_33_bytes": b"\x61\x00\x21" + b"\xaa" * 33 + b"\x00",
    "truncated_prefix": b"\x61\x05\x02\xaa",
    "prefix_at_infinity": b"\x61\x00\x01\x01\x02\x00",
    "truncated_fingerprint": b"\x61\x00\x00\x01" + b"\x01\x02\x03",
    "id_list_count_past_the_end": b"\x61\x00\x00\x02\x02" + b"\xbb" * 32,
    "id_list_count_of_2_to_the_34": b"\x61\x00\x00\x02\xc0\x80\x80\x80\x00",
    "varint_of_11_bytes": b"\x61" + b"\x80" * 10 + b"\x01",
    "varint_past_64_bits": b"\x61\x82" + b"\xff" * 8 + b"\x7f",
    "decreasing_bounds": b"\x61\x06\x01\x01\x00\x01\x00\x00",
    "not_negentropy": b"\x70",
    "not_negentropy_with_body": b"\x70\x00\x00\x00",
    "zero_byte": b"\x00",
    "empty": b"",
}


@pytest.fixture
def item_set(rng: random.Random) -> Iterator[negsync.ItemSet]:
    with make_set(random_items(rng, 200)) as item_set:
        yield item_set


def first_message(item_set: negsync.ItemSet) -> bytes:
    with negsync.Session(item_set) as initiator:
        return initiator.initiate()


def assert_fails_with(code: int, call: Callable[..., object], *args: Any) -> negsync.NegsyncError:
    with pytest.raises(negsync.NegsyncError) as caught:
        call(*args)
    assert caught.value.code == code, str(caught.value)
    return caught.value


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_responder_refuses_a_malformed_message_and_then_all_input(item_set: negsync.ItemSet, name: str) -> None:
    with negsync.Session(item_set) as responder:
        error = assert_fails_with(negsync.NEGSYNC_MALFORMED_MESSAGE, responder.reconcile,
                                  MALFORMED[name])
        assert not responder.is_complete, "a malformed message must never end the exchange"
        assert responder.last_error and responder.last_error in str(error)
        assert negsync.result_str(negsync.NEGSYNC_MALFORMED_MESSAGE) in str(error)
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, responder.reconcile,
                          first_message(item_set))


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_initiator_refuses_a_malformed_reply_and_then_all_input(item_set: negsync.ItemSet, name: str) -> None:
    with negsync.Session(item_set) as initiator:
        initiator.initiate()
        assert_fails_with(negsync.NEGSYNC_MALFORMED_MESSAGE, initiator.reconcile, MALFORMED[name])
        assert not initiator.is_complete, "a malformed reply must never end the exchange"
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, initiator.reconcile, b"\x61")


def test_responder_answers_another_version_with_v1_and_stays_ready(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 120), random_items(rng, 80)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(b) as responder:
        assert responder.reconcile(b"\x62\xaa\xbb") == b"\x61"
        assert not responder.is_complete
        with negsync.Session(a) as initiator:
            message: Optional[bytes] = initiator.initiate()
            while message is not None:
                reply = expect_message(responder.reconcile(message))
                assert reply is not None
                message = initiator.reconcile(reply)
            assert set(initiator.have_ids) == {i for _, i in mine}
            assert set(initiator.need_ids) == {i for _, i in theirs}


@pytest.mark.parametrize("reply", [b"\x62", b"\x60\x00", b"\x6f"])
def test_initiator_fails_on_a_reply_in_another_version(item_set: negsync.ItemSet, reply: bytes) -> None:
    with negsync.Session(item_set) as initiator:
        initiator.initiate()
        error = assert_fails_with(negsync.NEGSYNC_UNSUPPORTED_VERSION, initiator.reconcile, reply)
        assert error.name == "NEGSYNC_UNSUPPORTED_VERSION"
        assert not initiator.is_complete
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, initiator.reconcile, b"\x61")


def test_initiate_twice_is_refused_and_changes_nothing(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as initiator, negsync.Session(item_set) as responder:
        message = initiator.initiate()
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, initiator.initiate)
        assert initiator.reconcile(expect_message(responder.reconcile(message))) is None
        assert initiator.have_ids == () and initiator.need_ids == ()


def test_a_responder_cannot_initiate(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as responder:
        responder.reconcile(first_message(item_set))
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, responder.initiate)


def test_reconcile_after_completion_is_refused(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as initiator, negsync.Session(item_set) as responder:
        reply = expect_message(responder.reconcile(initiator.initiate()))
        assert responder.is_complete
        assert initiator.reconcile(reply) is None
        assert initiator.is_complete
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, initiator.reconcile, reply)
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, responder.reconcile, first_message(item_set))
        # Refusing a call out of order does not undo the completed exchange.
        assert initiator.is_complete and responder.is_complete


def test_only_the_initiator_learns_ids(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as undecided:
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, lambda: undecided.have_ids)
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, lambda: undecided.need_ids)
    with negsync.Session(item_set) as responder:
        responder.reconcile(first_message(item_set))
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, lambda: responder.have_ids)
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, lambda: responder.need_ids)


@pytest.mark.parametrize("limit", [1, 100, negsync.MIN_FRAME_SIZE_LIMIT - 1])
def test_frame_size_limit_below_the_minimum_is_refused(item_set: negsync.ItemSet, limit: int) -> None:
    assert_fails_with(negsync.NEGSYNC_INVALID_ARGUMENT, negsync.Session, item_set, limit)


@pytest.mark.parametrize("limit", [-1, 2**64])
def test_frame_size_limit_outside_uint64_is_refused(item_set: negsync.ItemSet, limit: int) -> None:
    assert_fails_with(negsync.NEGSYNC_INVALID_ARGUMENT, negsync.Session, item_set, limit)


@pytest.mark.parametrize("limit", [0, negsync.MIN_FRAME_SIZE_LIMIT, 200, 4095, 4096, 2**64 - 1])
def test_frame_size_limit_of_0_or_at_least_the_minimum_is_accepted(
    item_set: negsync.ItemSet, limit: int
) -> None:
    with negsync.Session(item_set, frame_size_limit=limit) as session:
        assert session.initiate().startswith(b"\x61")


def test_wrong_types_are_type_errors(item_set: negsync.ItemSet) -> None:
    with pytest.raises(TypeError):
        negsync.Session(object())  # type: ignore[arg-type]  # the wrong type is the test
    with negsync.Session(item_set) as session:
        with pytest.raises(TypeError):
            session.reconcile("\x61")  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(TypeError):
            session.limits = {"max_rounds": 1}  # type: ignore[assignment]  # the wrong type is the test


def test_last_error_is_empty_after_a_successful_call(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as initiator:
        assert initiator.last_error == ""
        initiator.initiate()
        assert initiator.last_error == ""


def test_closed_session_raises_value_error(item_set: negsync.ItemSet) -> None:
    session = negsync.Session(item_set)
    session.close()
    session.close()  # idempotent
    assert session.closed
    for use in (
        session.initiate,
        lambda: session.reconcile(b"\x61"),
        lambda: session.have_ids,
        lambda: session.need_ids,
        lambda: session.is_complete,
        lambda: session.last_error,
        lambda: session.limits,
    ):
        with pytest.raises(ValueError, match="closed Session"):
            use()
    with pytest.raises(ValueError, match="closed Session"):
        with session:
            pass
    assert "closed" in repr(session)


def test_reply_is_a_copy_that_survives_the_next_call(rng: random.Random) -> None:
    # The library lends its buffer only until the next call; Python must hand out its own bytes.
    mine, theirs = random_items(rng, 3000), random_items(rng, 3000)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(a, 4096) as initiator, \
            negsync.Session(b, 4096) as responder:
        first = initiator.initiate()
        first_copy = bytes(first)
        reply = expect_message(responder.reconcile(first))
        reply_copy = bytes(reply)
        second = initiator.reconcile(reply)
        assert second is not None
        responder.reconcile(second)
        assert first == first_copy and reply == reply_copy


def test_a_panic_inside_the_library_poisons_only_its_session(item_set: negsync.ItemSet) -> None:
    with negsync.Session(item_set) as poisoned, negsync.Session(item_set) as healthy:
        with pytest.raises(negsync.NegsyncError) as caught:
            _ffi.lib.negsync_debug_panic(poisoned._live_handle())
        assert caught.value.code == negsync.NEGSYNC_PANIC
        assert "panic" in caught.value.detail
        assert not poisoned.is_complete
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, poisoned.initiate)
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, poisoned.reconcile, b"\x61")
        # Everything else goes on working.
        assert healthy.reconcile(first_message(item_set)) is not None
        item_set.insert(1, b"\x01" * 32)
    with pytest.raises(negsync.NegsyncError) as caught:
        _ffi.lib.negsync_debug_panic(None)
    assert caught.value.code == negsync.NEGSYNC_PANIC
