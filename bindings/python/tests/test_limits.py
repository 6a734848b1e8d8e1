"""Limits: what a peer may make one session do, and how a session fails past them."""

from typing import Any
import random
import pytest
from conftest import make_set, overlapping_sets, random_items, run_exchange, expect_message

import negsync


def test_default_limits_come_from_the_library() -> None:
    defaults = negsync.Limits.default()
    assert defaults == negsync.Limits()
    assert defaults.max_message_size == 64 << 20
    assert defaults.max_rounds == 100_000
    assert defaults.max_id_bytes == 64 << 20


def test_limits_fill_unnamed_fields_with_defaults() -> None:
    limits = negsync.Limits(max_rounds=3)
    assert limits.max_rounds == 3
    assert limits.max_message_size == negsync.Limits.default().max_message_size


def test_session_limits_round_trip_through_the_library(rng: random.Random) -> None:
    chosen = negsync.Limits(max_message_size=5000, max_rounds=7, max_id_bytes=32 * 11)
    with make_set(random_items(rng, 5)) as item_set:
        with negsync.Session(item_set) as session:
            assert session.limits == negsync.Limits.default()
            session.limits = chosen
            assert session.limits == chosen
        with negsync.Session(item_set, limits=chosen) as session:
            assert session.limits == chosen


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_limits_outside_uint64_are_refused(rng: random.Random, bad: Any) -> None:
    with make_set(random_items(rng, 5)) as item_set:
        with pytest.raises(negsync.NegsyncError) as caught:
            negsync.Session(item_set, limits=negsync.Limits(max_rounds=bad))
        assert caught.value.code == negsync.NEGSYNC_INVALID_ARGUMENT


def test_message_larger_than_max_message_size_fails_the_session(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 100), random_items(rng, 100)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(a) as initiator:
        message = initiator.initiate()
        small = negsync.Limits(max_message_size=len(message) - 1)
        with negsync.Session(b, limits=small) as responder:
            with pytest.raises(negsync.NegsyncError) as caught:
                responder.reconcile(message)
            assert caught.value.code == negsync.NEGSYNC_LIMIT_EXCEEDED
            assert "max_message_size" in responder.last_error
            with pytest.raises(negsync.NegsyncError) as caught:
                responder.reconcile(b"\x61")
            assert caught.value.code == negsync.NEGSYNC_WRONG_STATE
        exact = negsync.Limits(max_message_size=len(message))
        with negsync.Session(b, limits=exact) as responder:
            assert responder.reconcile(message) is not None


def test_max_rounds_stops_an_initiator_that_needs_more(rng: random.Random) -> None:
    mine, theirs = overlapping_sets(3, 2000, 800, 800)
    with make_set(mine) as a, make_set(theirs) as b:
        needed = run_exchange(a, b, 4096, 4096).round_trips
        assert needed > 1, "the exchange must need several rounds for this test to mean anything"
        with negsync.Session(a, 4096, limits=negsync.Limits(max_rounds=1)) as initiator, \
                negsync.Session(b, 4096) as responder:
            message = initiator.reconcile(expect_message(responder.reconcile(initiator.initiate())))
            assert message is not None
            with pytest.raises(negsync.NegsyncError) as caught:
                initiator.reconcile(expect_message(responder.reconcile(message)))
            assert caught.value.code == negsync.NEGSYNC_LIMIT_EXCEEDED
            assert not initiator.is_complete
            with pytest.raises(negsync.NegsyncError) as caught:
                initiator.reconcile(b"\x61")
            assert caught.value.code == negsync.NEGSYNC_WRONG_STATE
        # Exactly enough rounds is enough.
        just_enough = negsync.Limits(max_rounds=needed)
        exchange = run_exchange(a, b, 4096, 4096, initiator_limits=just_enough)
        assert exchange.round_trips == needed


def test_max_id_bytes_bounds_the_have_and_need_lists(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 20), random_items(rng, 20)
    with make_set(mine) as a, make_set(theirs) as b:
        with pytest.raises(negsync.NegsyncError) as caught:
            run_exchange(a, b, initiator_limits=negsync.Limits(max_id_bytes=32 * 39))
        assert caught.value.code == negsync.NEGSYNC_LIMIT_EXCEEDED
        exchange = run_exchange(a, b, initiator_limits=negsync.Limits(max_id_bytes=32 * 40))
        assert len(exchange.have_ids) + len(exchange.need_ids) == 40


def test_lowered_limits_apply_from_the_next_message(rng: random.Random) -> None:
    with make_set(random_items(rng, 100)) as a, make_set(random_items(rng, 100)) as b, \
            negsync.Session(a) as initiator, negsync.Session(b) as responder:
        message = initiator.initiate()
        responder.limits = negsync.Limits(max_message_size=1)
        with pytest.raises(negsync.NegsyncError) as caught:
            responder.reconcile(message)
        assert caught.value.code == negsync.NEGSYNC_LIMIT_EXCEEDED
