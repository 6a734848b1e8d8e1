"""Whole exchanges: the differences found must be exactly those of the reference sets."""

from typing import Optional, Set, Tuple
import random
import threading
import zlib

import pytest
from conftest import (
    assert_exact_differences,
    make_set,
    overlapping_sets,
    random_items,
    run_exchange,
    expect_message,
    summarize,
)

import negsync

FRAME_LIMITS = [
    (0, 0), (4096, 4096), (60000, 60000), (4096, 0), (0, 60000),
    # radio frames: negsync's own framing below 4096
    (negsync.MIN_FRAME_SIZE_LIMIT, negsync.MIN_FRAME_SIZE_LIMIT), (200, 200), (4096, 233),
]

# name -> (shared, only initiator, only responder, timestamps or None for a wide range)
SCENARIOS = {
    "initiator_larger": (400, 300, 40, None),
    "responder_larger": (400, 30, 500, None),
    "both_empty": (0, 0, 0, None),
    "initiator_empty": (0, 0, 250, None),
    "responder_empty": (0, 250, 0, None),
    "identical": (800, 0, 0, None),
    "one_shared_timestamp": (600, 150, 150, range(7, 8)),
    "few_timestamps": (900, 200, 200, range(3)),
    "thousands": (3000, 700, 600, None),
}


@pytest.mark.parametrize("initiator_frame,responder_frame", FRAME_LIMITS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_initiator_finds_exactly_the_differences(scenario: str, initiator_frame: int, responder_frame: int) -> None:
    shared, only_initiator, only_responder, timestamps = SCENARIOS[scenario]
    seed = zlib.crc32(f"{scenario}/{initiator_frame}/{responder_frame}".encode())
    mine, theirs = overlapping_sets(seed, shared, only_initiator, only_responder, timestamps)
    with make_set(mine) as initiator_set, make_set(theirs) as responder_set:
        assert len(initiator_set) == len(mine) and len(responder_set) == len(theirs)
        exchange = run_exchange(initiator_set, responder_set, initiator_frame, responder_frame)
    assert_exact_differences(exchange, mine, theirs)


def test_frame_limits_force_more_round_trips_and_are_respected() -> None:
    mine, theirs = overlapping_sets(5, 2000, 1500, 1500)
    with make_set(mine) as initiator_set, make_set(theirs) as responder_set:
        unlimited = run_exchange(initiator_set, responder_set)
        limited = run_exchange(initiator_set, responder_set, 4096, 4096)
    assert_exact_differences(limited, mine, theirs)
    # The driver checks each message against its limit; this shows the limit had work to do.
    assert max(map(len, unlimited.responder_messages)) > 4096
    assert limited.round_trips > unlimited.round_trips


def test_initiator_completes_exactly_when_reconcile_returns_none(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 50), random_items(rng, 60)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(a) as initiator, \
            negsync.Session(b) as responder:
        message: Optional[bytes] = initiator.initiate()
        assert not initiator.is_complete
        while True:
            reply = expect_message(responder.reconcile(expect_message(message)))
            message = initiator.reconcile(reply)
            if message is None:
                break
            assert not initiator.is_complete
        assert initiator.is_complete
        assert set(initiator.have_ids) == {i for _, i in mine}
        assert set(initiator.need_ids) == {i for _, i in theirs}


def test_responder_completes_with_a_reply_that_holds_no_fingerprint_range(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 30), random_items(rng, 30)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(a) as initiator, \
            negsync.Session(b) as responder:
        reply = responder.reconcile(initiator.initiate())
        # Small sets: the responder answers with ID lists at once, so its part is done.
        assert reply is not None
        assert responder.is_complete
        summary = summarize(reply)
        assert summary.fingerprint == 0 and summary.id_list >= 1
        assert set(summary.ids) == {i for _, i in theirs}
        assert initiator.reconcile(reply) is None
        assert initiator.is_complete


def test_responder_is_not_complete_while_its_reply_asks_for_more(rng: random.Random) -> None:
    mine, theirs = overlapping_sets(9, 3000, 200, 200)
    with make_set(mine) as a, make_set(theirs) as b, negsync.Session(a) as initiator, \
            negsync.Session(b) as responder:
        reply = expect_message(responder.reconcile(initiator.initiate()))
        assert summarize(reply).fingerprint > 0
        assert not responder.is_complete


@pytest.mark.parametrize("initiator_frame", [0, 4096])
def test_initiator_finishes_after_a_frame_cut_reply_whose_rest_matches(initiator_frame: int) -> None:
    # Regression: the responder's frame limit cuts a reply short with a last fingerprint range
    # that already matches; the initiator must still finish, and with the exact differences.
    responder_items = {(ts, bytes([ts]) * 32) for ts in range(1, 132)}
    initiator_items = {(ts, item_id) for ts, item_id in responder_items if ts >= 101}
    with make_set(initiator_items) as a, make_set(responder_items) as b:
        exchange = run_exchange(a, b, initiator_frame=initiator_frame, responder_frame=4096)
    assert_exact_differences(exchange, initiator_items, responder_items)
    assert exchange.have_ids == ()
    assert len(exchange.need_ids) == 100


def test_ids_read_and_forgotten_each_round_add_up_to_the_differences() -> None:
    # A node that acts on IDs as each round brings them: it reads the lists, then forgets them.
    mine, theirs = overlapping_sets(606, 300, 60, 60)
    have: Set[bytes] = set()
    need: Set[bytes] = set()
    listed = [0, 0]
    rounds = 0
    with make_set(mine) as a, make_set(theirs) as b:
        with negsync.Session(a, 200) as initiator, negsync.Session(b, 200) as responder:
            with pytest.raises(negsync.NegsyncError):
                initiator.forget_ids()  # no role yet
            message: Optional[bytes] = initiator.initiate()
            while message is not None:
                rounds += 1
                message = initiator.reconcile(expect_message(responder.reconcile(message)))
                have.update(initiator.have_ids)
                need.update(initiator.need_ids)
                listed[0] += len(initiator.have_ids)
                listed[1] += len(initiator.need_ids)
                initiator.forget_ids()
                assert initiator.have_ids == () and initiator.need_ids == ()
            with pytest.raises(negsync.NegsyncError):
                responder.forget_ids()
            stats = initiator.stats
    assert rounds > 5
    assert have == {item_id for _, item_id in mine - theirs}
    assert need == {item_id for _, item_id in theirs - mine}
    assert [stats.have_count, stats.need_count] == listed


def test_set_changes_after_a_session_starts_do_not_reach_it(rng: random.Random) -> None:
    items = random_items(rng, 20)
    with make_set(items) as a, make_set(items) as b:
        initiator = negsync.Session(a)
        extra = rng.randbytes(32)
        a.insert(5, extra)
        with initiator, negsync.Session(b) as responder:
            assert initiator.reconcile(expect_message(responder.reconcile(initiator.initiate()))) is None
            assert initiator.have_ids == () and initiator.need_ids == ()


def test_session_outlives_the_set_it_was_made_from(rng: random.Random) -> None:
    mine, theirs = random_items(rng, 40), random_items(rng, 10)
    a, b = make_set(mine), make_set(theirs)
    initiator, responder = negsync.Session(a), negsync.Session(b)
    a.close()
    b.close()
    del a, b
    with initiator, responder:
        exchange_message: Optional[bytes] = initiator.initiate()
        while exchange_message is not None:
            exchange_message = initiator.reconcile(expect_message(responder.reconcile(exchange_message)))
        assert set(initiator.have_ids) == {i for _, i in mine}
        assert set(initiator.need_ids) == {i for _, i in theirs}


def test_sessions_from_one_set_run_on_several_threads_while_it_changes() -> None:
    mine, theirs = overlapping_sets(11, 1500, 300, 300)
    failures = []
    with make_set(mine) as shared_set, make_set(theirs) as responder_set:
        expected_need = {i for _, i in theirs - mine}

        def reconcile_repeatedly() -> None:
            try:
                for _ in range(10):
                    with negsync.Session(shared_set, 4096) as initiator, \
                            negsync.Session(responder_set, 4096) as responder:
                        message: Optional[bytes] = initiator.initiate()
                        while message is not None:
                            message = initiator.reconcile(expect_message(responder.reconcile(message)))
                        # Items added meanwhile go only into the initiator's set, so whatever its
                        # snapshot holds, what it needs from the responder stays the same.
                        assert set(initiator.need_ids) == expected_need
            except BaseException as error:  # reported on the main thread
                failures.append(error)

        def keep_inserting() -> None:
            for n in range(2000):
                shared_set.insert(2_000_000 + n, n.to_bytes(32, "big"))

        threads = [threading.Thread(target=reconcile_repeatedly) for _ in range(4)]
        threads.append(threading.Thread(target=keep_inserting))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures
        assert len(shared_set) == len(mine) + 2000


def test_stats_count_rounds_bytes_and_results_on_both_sides() -> None:
    with negsync.ItemSet() as ours, negsync.ItemSet() as theirs:
        for t in range(200):
            ours.insert(t, negsync.id_for_key(f"shared-{t}"))
            theirs.insert(t, negsync.id_for_key(f"shared-{t}"))
        ours.insert(500, negsync.id_for_key("only-ours"))
        theirs.insert(600, negsync.id_for_key("only-theirs"))
        with negsync.Session(ours) as initiator, negsync.Session(theirs) as responder:
            assert initiator.stats.role == "undecided"
            message: Optional[bytes] = initiator.initiate()
            sent = len(expect_message(message))
            received = 0
            rounds = 0
            while message is not None:
                reply = expect_message(responder.reconcile(message))
                rounds += 1
                received += len(reply)
                message = initiator.reconcile(reply)
                if message is not None:
                    sent += len(message)
            stats = initiator.stats
            assert (stats.role, stats.complete, stats.failed) == ("initiator", True, False)
            assert (stats.rounds, stats.bytes_out, stats.bytes_in) == (rounds, sent, received)
            assert (stats.have_count, stats.need_count) == (1, 1)
            peer = responder.stats
            assert (peer.role, peer.rounds, peer.bytes_in, peer.bytes_out) == (
                "responder", rounds, sent, received)
            assert (peer.have_count, peer.need_count) == (0, 0)


@pytest.mark.parametrize("frame", [0, 4096, 200, negsync.MIN_FRAME_SIZE_LIMIT])
def test_a_window_reconciles_only_the_items_inside_it(frame: int) -> None:
    """Both peers use the window [300, 600): differences outside it are never reported."""
    mine = {(t, t.to_bytes(8, "little") + bytes(24)) for t in range(1000) if t % 89}
    theirs = {(t, t.to_bytes(8, "little") + bytes(24)) for t in range(1000) if t % 97}

    def inside(items: Set[Tuple[int, bytes]]) -> Set[Tuple[int, bytes]]:
        return {item for item in items if 300 <= item[0] < 600}

    with make_set(mine) as a, make_set(theirs) as b, \
            negsync.Session(a, frame, window=(300, 600)) as initiator, \
            negsync.Session(b, frame, window=(300, 600)) as responder:
        message: Optional[bytes] = initiator.initiate()
        while message is not None:
            message = initiator.reconcile(expect_message(responder.reconcile(message)))
        assert set(initiator.have_ids) == {i for _, i in inside(mine) - inside(theirs)}
        assert set(initiator.need_ids) == {i for _, i in inside(theirs) - inside(mine)}
        assert len(initiator.have_ids) == 3 and len(initiator.need_ids) == 3


def test_a_window_must_not_end_before_it_starts() -> None:
    with negsync.ItemSet() as item_set:
        with pytest.raises(negsync.NegsyncError) as error:
            negsync.Session(item_set, window=(10, 9))
        assert error.value.code == negsync.NEGSYNC_INVALID_ARGUMENT
