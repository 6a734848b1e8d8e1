"""SyncManager: per-peer sessions in both directions at once, eviction, expiry, failures,
counters, configuration, argument checks, and the set kept alive by the library.

The scenarios mirror tests/manager.rs, through the C ABI."""

from typing import Any, Callable, List, Optional, Set, Tuple
import dataclasses
import gc
import random
import threading

import pytest
from conftest import ids_of, make_set, overlapping_sets, random_items, expect_message, summarize

import negsync

ALICE = b"\xa1" * 32
BOB = b"\xb0" * 32


def peer(number: int) -> bytes:
    return bytes([number]) * 32


def assert_fails_with(code: int, call: Callable[..., object], *args: Any) -> negsync.NegsyncError:
    with pytest.raises(negsync.NegsyncError) as caught:
        call(*args)
    assert caught.value.code == code, str(caught.value)
    return caught.value


@dataclasses.dataclass
class Trace:
    """What one outbound sync passed between the two managers."""

    initiator_sent: List[bytes] = dataclasses.field(default_factory=list)
    responder_sent: List[bytes] = dataclasses.field(default_factory=list)
    responder_completed: bool = False
    final: Optional[negsync.Handled] = None

    @property
    def done(self) -> negsync.Handled:
        """The initiator's last Handled (the sync completed)."""
        assert self.final is not None, "the sync did not complete"
        return self.final


def sync(
    initiator: negsync.SyncManager,
    initiator_id: bytes,
    responder: negsync.SyncManager,
    responder_id: bytes,
    now: int,
    close_responder: bool = True,
) -> Trace:
    """Drives one outbound sync from `initiator` (known to `responder` as `initiator_id`) to
    its end, checking every step; returns the Trace."""
    trace = Trace()
    message = initiator.start(responder_id, now)
    assert isinstance(message, bytes) and message
    while True:
        assert len(trace.initiator_sent) < 1000, "the exchange does not end"
        trace.initiator_sent.append(message)
        assert not trace.responder_completed, "the responder finished but the initiator went on"
        answer = responder.handle(initiator_id, negsync.INBOUND, message, now)
        assert answer.reply is not None, "a responder always answers"
        assert answer.have_ids == [] and answer.need_ids == [], "only an initiator learns IDs"
        assert answer.complete == (summarize(answer.reply).fingerprint == 0)
        trace.responder_sent.append(answer.reply)
        trace.responder_completed = answer.complete
        handled = initiator.handle(responder_id, negsync.OUTBOUND, answer.reply, now)
        if handled.complete:
            assert handled.reply is None
            trace.final = handled
            if close_responder:
                # The responder may still hold its session: it cannot know the exchange ended.
                assert responder.close_session(initiator_id, negsync.INBOUND) == (
                    not trace.responder_completed
                )
            return trace
        assert handled.have_ids == [] and handled.need_ids == []
        assert handled.reply is not None, "an unfinished initiator has more to say"
        message = handled.reply


def assert_exact(
    handled: negsync.Handled, mine: Set[Tuple[int, bytes]], theirs: Set[Tuple[int, bytes]]
) -> None:
    """have == mine \\ theirs and need == theirs \\ mine, by ID, each reported once."""
    assert all(isinstance(i, bytes) and len(i) == 32 for i in handled.have_ids + handled.need_ids)
    assert len(set(handled.have_ids)) == len(handled.have_ids)
    assert len(set(handled.need_ids)) == len(handled.need_ids)
    assert set(handled.have_ids) == ids_of(mine - theirs)
    assert set(handled.need_ids) == ids_of(theirs - mine)


# --- Syncing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("frame_size_limit", [0, 4096])
def test_two_peers_syncing_toward_each_other_at_once_get_independent_sessions(frame_size_limit: int) -> None:
    a, b = overlapping_sets(11, 3000, 40, 60, timestamps=range(1 << 20))
    config = negsync.ManagerConfig(frame_size_limit=frame_size_limit)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set, config) as alice, \
            negsync.SyncManager(bob_set, config) as bob:
        # Both start before either answers: four sessions, none colliding.
        alice_message = alice.start(BOB, 1)
        bob_message = bob.start(ALICE, 1)
        assert alice.stats.live == 1 and bob.stats.live == 1
        alice_done = bob_done = None
        alice_responder_done = bob_responder_done = False
        round_trips = 0
        for now in range(2, 1000):
            if alice_done is None:
                reply = bob.handle(ALICE, negsync.INBOUND, alice_message, now)
                bob_responder_done = reply.complete
                handled = alice.handle(BOB, negsync.OUTBOUND, expect_message(reply.reply), now)
                if handled.complete:
                    alice_done = handled
                else:
                    alice_message = expect_message(handled.reply)
            if bob_done is None:
                reply = alice.handle(BOB, negsync.INBOUND, bob_message, now)
                alice_responder_done = reply.complete
                handled = bob.handle(ALICE, negsync.OUTBOUND, expect_message(reply.reply), now)
                if handled.complete:
                    bob_done = handled
                else:
                    bob_message = expect_message(handled.reply)
            round_trips += 1
            # Each manager holds its outbound session until it completes, and its inbound one
            # until it answers with a final reply (or the other side stops talking).
            assert alice.stats.live == (alice_done is None) + (not alice_responder_done)
            assert bob.stats.live == (bob_done is None) + (not bob_responder_done)
            if alice_done is not None and bob_done is not None:
                break
        assert alice_done is not None and bob_done is not None
        assert round_trips > 1 or frame_size_limit == 0
        assert_exact(alice_done, a, b)
        assert_exact(bob_done, b, a)
        for manager, responder_done in ((alice, alice_responder_done),
                                        (bob, bob_responder_done)):
            stats = manager.stats
            assert stats.started_outbound == 1 and stats.started_inbound == 1
            assert stats.completed == 1 + responder_done, "the outbound, and the inbound answer"
            assert stats.live == (0 if responder_done else 1)
            assert stats.failed == stats.expired == stats.evicted == stats.closed == 0
        assert alice.stats.have_total == bob.stats.need_total == 40
        assert alice.stats.need_total == bob.stats.have_total == 60


def test_a_full_sync_is_counted_exactly() -> None:
    a, b = overlapping_sets(3, 2000, 25, 35, timestamps=range(1000))
    config = negsync.ManagerConfig(frame_size_limit=4096)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set, config) as alice, \
            negsync.SyncManager(bob_set, config) as bob:
        trace = sync(alice, ALICE, bob, BOB, now=5, close_responder=False)
        assert_exact(trace.done, a, b)
        assert len(trace.initiator_sent) > 1, "the frame limit makes it take several rounds"
        assert all(len(m) <= 4096 for m in trace.initiator_sent + trace.responder_sent)
        sent = sum(map(len, trace.initiator_sent))
        answered = sum(map(len, trace.responder_sent))

        assert alice.stats == negsync.ManagerStats(
            started_outbound=1, started_inbound=0, completed=1, failed=0, expired=0,
            evicted=0, closed=0, rounds=len(trace.responder_sent), bytes_in=answered,
            bytes_out=sent, have_total=25, need_total=35, live=0,
        )
        stale = 0 if trace.responder_completed else 1
        assert bob.stats == negsync.ManagerStats(
            started_outbound=0, started_inbound=1, completed=1 - stale, failed=0, expired=0,
            evicted=0, closed=0, rounds=len(trace.initiator_sent), bytes_in=sent,
            bytes_out=answered, have_total=0, need_total=0, live=stale,
        )
        assert bob.close_session(ALICE, negsync.INBOUND) == bool(stale)
        assert bob.stats.closed == stale and bob.stats.live == 0

        # Nothing accumulates: a second sync counts again from the same state.
        again = sync(alice, ALICE, bob, BOB, now=6)
        assert_exact(again.done, a, b)
        assert alice.stats.completed == 2 and alice.stats.live == 0
        assert alice.stats.have_total == 50 and alice.stats.need_total == 70
        assert bob.stats.live == 0


def test_identical_and_empty_sets_sync_to_nothing() -> None:
    items = random_items(random.Random(4), 300)
    with make_set(items) as full, make_set(items) as same, negsync.ItemSet() as empty:
        with negsync.SyncManager(full) as one, negsync.SyncManager(same) as two, \
                negsync.SyncManager(empty) as nothing:
            assert_exact(sync(one, ALICE, two, BOB, 0).done, items, items)
            assert_exact(sync(one, ALICE, nothing, BOB, 0).done, items, set())
            assert_exact(sync(nothing, BOB, one, ALICE, 0).done, set(), items)


def test_sessions_see_the_set_as_it_was_when_they_began() -> None:
    with negsync.ItemSet() as item_set, negsync.ItemSet() as other:
        item_set.insert(1, b"\x01" * 32)
        with negsync.SyncManager(item_set) as manager, negsync.SyncManager(other) as remote:
            message = manager.start(BOB, 0)
            item_set.insert(2, b"\x02" * 32)  # after the session began: not in it
            handled = manager.handle(BOB, negsync.OUTBOUND,
                                     expect_message(remote.handle(ALICE, negsync.INBOUND, message, 0).reply), 0)
            assert handled.complete and handled.have_ids == [b"\x01" * 32]
            remote.close_session(ALICE, negsync.INBOUND)
            again = sync(manager, ALICE, remote, BOB, 1)
            assert sorted(again.done.have_ids) == [b"\x01" * 32, b"\x02" * 32], \
                "a new session reads the new snapshot"


def test_the_set_may_be_closed_while_the_manager_lives() -> None:
    a, b = overlapping_sets(8, 500, 7, 9)
    item_set = make_set(a)
    manager = negsync.SyncManager(item_set)
    item_set.close()
    assert item_set.closed
    with pytest.raises(ValueError):
        len(item_set)
    del item_set
    gc.collect()
    with make_set(b) as bob_set, negsync.SyncManager(bob_set) as bob:
        # Sessions begun after the close read the set the library kept alive for the manager.
        for now in range(3):
            assert_exact(sync(manager, ALICE, bob, BOB, now).done, a, b)
            assert_exact(sync(bob, BOB, manager, ALICE, now).done, b, a)
    manager.close()


def test_directions_are_accepted_as_the_enum_or_the_header_ints() -> None:
    assert negsync.OUTBOUND == negsync.NEGSYNC_DIRECTION_OUTBOUND == 0
    assert negsync.INBOUND == negsync.NEGSYNC_DIRECTION_INBOUND == 1
    assert negsync.OUTBOUND is negsync.Direction.OUTBOUND
    a, b = overlapping_sets(9, 200, 3, 4)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set) as alice, negsync.SyncManager(bob_set) as bob:
        message = alice.start(BOB, 0)
        while True:
            reply = expect_message(bob.handle(ALICE, negsync.NEGSYNC_DIRECTION_INBOUND, message, 0).reply)
            handled = alice.handle(BOB, 0, reply, 0)
            if handled.complete:
                break
            message = expect_message(handled.reply)
        assert_exact(handled, a, b)
        bob.close_session(ALICE, 1)
        assert bob.stats.live == 0


def test_messages_may_be_any_bytes_like_object() -> None:
    a, b = overlapping_sets(10, 100, 2, 2)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set) as alice, negsync.SyncManager(bob_set) as bob:
        message = alice.start(bytearray(BOB), 0)
        reply = expect_message(bob.handle(memoryview(ALICE), negsync.INBOUND, bytearray(message), 0).reply)
        handled = alice.handle(BOB, negsync.OUTBOUND, memoryview(reply), 0)
        while not handled.complete:
            reply = expect_message(bob.handle(ALICE, negsync.INBOUND, expect_message(handled.reply), 0).reply)
            handled = alice.handle(BOB, negsync.OUTBOUND, reply, 0)
        assert_exact(handled, a, b)


def test_one_manager_serves_several_threads() -> None:
    mine = random_items(random.Random(12), 400)
    with make_set(mine) as my_set, negsync.SyncManager(my_set) as shared:
        failures = []

        def worker(number: int) -> None:
            theirs = random_items(random.Random(100 + number), 50) | set(sorted(mine)[:200])
            try:
                with make_set(theirs) as their_set, negsync.SyncManager(their_set) as remote:
                    for now in range(5):
                        trace = sync(shared, ALICE, remote, peer(number), now)
                        assert_exact(trace.done, mine, theirs)
            except Exception as error:  # reported below, with the thread that failed
                failures.append((number, error))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert shared.stats.completed == shared.stats.started_outbound == 30
        assert shared.stats.live == 0


# --- Refusals --------------------------------------------------------------------------------


def test_a_second_outbound_sync_to_the_same_peer_is_refused_while_one_runs() -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set) as manager:
        manager.start(BOB, 0)
        assert manager.last_error == ""
        error = assert_fails_with(negsync.NEGSYNC_WRONG_STATE, manager.start, BOB, 0)
        assert manager.last_error and manager.last_error == error.detail
        assert manager.last_error in str(error) and "negsync_manager_start" in str(error)
        manager.start(ALICE, 0)
        assert manager.last_error == "", "a call that succeeds clears last_error"
        error = assert_fails_with(negsync.NEGSYNC_WRONG_STATE, manager.handle, peer(9),
                                  negsync.OUTBOUND, b"\x61", 0)
        assert error.detail == manager.last_error != ""
        stats = manager.stats
        assert stats.started_outbound == 2 and stats.live == 2
        assert stats.rounds == 0 and stats.bytes_in == 0 and stats.failed == 0


def test_the_oldest_idle_session_is_evicted_and_idle_ones_expire() -> None:
    config = negsync.ManagerConfig(max_sessions=3, idle_timeout=100)
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set, config) as manager:
        for number, now in ((1, 10), (2, 20), (3, 30)):
            manager.start(peer(number), now)
        manager.start(peer(4), 40)
        # Peer 1 was idle longest: gone. A refused call changes nothing, so it is a safe probe.
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, manager.handle, peer(1), negsync.OUTBOUND,
                          b"\x61", 41)
        for number in (2, 3, 4):
            assert_fails_with(negsync.NEGSYNC_WRONG_STATE, manager.start, peer(number), 41)
        assert manager.stats.evicted == 1
        assert manager.stats.live == 3

        assert manager.expire(120) == 0, "idle exactly the timeout is not past it"
        assert manager.expire(121) == 1, "only the one last active at 20 is past 100"
        assert_fails_with(negsync.NEGSYNC_WRONG_STATE, manager.start, peer(3), 121)
        assert manager.expire(1000) == 2
        assert manager.expire(10**6) == 0
        stats = manager.stats
        assert stats.live == 0 and stats.expired == 3 and stats.evicted == 1
        assert stats.started_outbound == 4 and stats.completed == stats.closed == 0
        manager.start(peer(1), 1001)  # a peer whose session expired may be synced again


def test_inbound_sessions_count_toward_the_bound_and_activity_delays_expiry() -> None:
    a, b = overlapping_sets(13, 3000, 50, 50, timestamps=range(1 << 20))
    config = negsync.ManagerConfig(max_sessions=2, idle_timeout=100, frame_size_limit=4096)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set, config) as alice, \
            negsync.SyncManager(bob_set, config) as bob:
        first = alice.start(BOB, 0)
        reply = bob.handle(ALICE, negsync.INBOUND, first, 0)
        assert not reply.complete, "this data needs more than one round trip"
        assert bob.stats.started_inbound == 1 and bob.stats.live == 1
        next_message = alice.handle(BOB, negsync.OUTBOUND, expect_message(reply.reply), 0).reply
        assert next_message is not None
        # Touched again at 90 (small frames: still not the last round).
        assert not bob.handle(ALICE, negsync.INBOUND, next_message, 90).complete
        bob.start(peer(5), 50)
        assert bob.stats.live == 2
        assert bob.expire(150) == 0
        assert bob.expire(151) == 1, "peer 5, last active at 50"
        assert bob.expire(190) == 0, "the inbound session was touched at 90, not 0"
        assert bob.expire(191) == 1
        assert bob.stats.live == 0 and bob.stats.expired == 2

        # Full, a new inbound session evicts the session idle longest.
        bob.start(peer(6), 200)
        bob.start(peer(7), 210)
        bob.handle(ALICE, negsync.INBOUND, first, 220)
        stats = bob.stats
        assert stats.live == 2 and stats.evicted == 1 and stats.started_inbound == 2
        assert bob.close_session(ALICE, negsync.INBOUND)
        assert bob.close_session(peer(7), negsync.OUTBOUND)
        assert not bob.close_session(peer(6), negsync.OUTBOUND), "idle longest: evicted"
        assert bob.stats.closed == 2 and bob.stats.live == 0


@pytest.mark.parametrize("message", [b"\x61\x80", b"\x61\x00\x00\x03", b"\x70", b""])
def test_a_malformed_inbound_message_fails_that_session_alone(message: bytes) -> None:
    a, b = overlapping_sets(5, 100, 5, 5, timestamps=range(1000))
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set) as manager, negsync.SyncManager(bob_set) as peer_b:
        manager.start(BOB, 0)
        error = assert_fails_with(negsync.NEGSYNC_MALFORMED_MESSAGE, manager.handle, ALICE,
                                  negsync.INBOUND, message, 0)
        assert error.detail and error.detail == manager.last_error
        stats = manager.stats
        assert stats.failed == 1 and stats.started_inbound == 1 and stats.live == 1
        assert stats.rounds == 1 and stats.bytes_in == len(message)
        assert not manager.close_session(ALICE, negsync.INBOUND), "the failed session is gone"
        assert manager.close_session(BOB, negsync.OUTBOUND), "other sessions live on"
        assert manager.stats.closed == 1
        trace = sync(manager, ALICE, peer_b, BOB, 1)
        assert_exact(trace.done, a, b)
        assert manager.stats.live == 0 and manager.stats.failed == 1


def test_a_reply_in_another_protocol_version_fails_the_outbound_sync() -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set) as manager:
        manager.start(BOB, 0)
        assert_fails_with(negsync.NEGSYNC_UNSUPPORTED_VERSION, manager.handle, BOB,
                          negsync.OUTBOUND, b"\x62", 0)
        assert manager.stats.failed == 1 and manager.stats.live == 0
        manager.start(BOB, 1)  # removed, so a new sync may begin


def test_limits_in_the_config_bound_every_session() -> None:
    a, b = overlapping_sets(14, 3000, 50, 50, timestamps=range(1 << 20))
    small = negsync.ManagerConfig(limits=negsync.Limits(max_message_size=64))
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set) as alice, negsync.SyncManager(bob_set, small) as bob:
        first = alice.start(BOB, 0)
        assert len(first) > 64
        assert_fails_with(negsync.NEGSYNC_LIMIT_EXCEEDED, bob.handle, ALICE, negsync.INBOUND,
                          first, 0)
        assert bob.stats.failed == 1 and bob.stats.live == 0


@pytest.mark.parametrize("config", [
    negsync.ManagerConfig(max_sessions=0),
    negsync.ManagerConfig(frame_size_limit=100),
    negsync.ManagerConfig(frame_size_limit=negsync.MIN_FRAME_SIZE_LIMIT - 1),
    negsync.ManagerConfig(max_sessions=-1),
    negsync.ManagerConfig(idle_timeout=2**64),
    negsync.ManagerConfig(limits=negsync.Limits(max_rounds=-5)),
], ids=["max_sessions_0", "frame_100", "frame_127", "max_sessions_negative",
        "timeout_2_64", "negative_limit"])
def test_bad_configurations_are_refused(config: Any) -> None:
    with negsync.ItemSet() as item_set:
        assert_fails_with(negsync.NEGSYNC_INVALID_ARGUMENT, negsync.SyncManager, item_set, config)


def test_configurations_and_their_defaults() -> None:
    assert negsync.ManagerConfig.default() == negsync.ManagerConfig()
    default = negsync.ManagerConfig()
    assert (default.max_sessions, default.idle_timeout, default.frame_size_limit) == (64, 30000, 0)
    assert default.limits == negsync.Limits.default()
    with pytest.raises(dataclasses.FrozenInstanceError):
        default.max_sessions = 3  # type: ignore[misc]  # the wrong type is the test
    with negsync.ItemSet() as item_set:
        negsync.SyncManager(item_set, negsync.ManagerConfig(max_sessions=1,
                                                            frame_size_limit=4096)).close()
        with pytest.raises(TypeError):
            negsync.SyncManager(item_set, {"max_sessions": 3})  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(TypeError):
            negsync.SyncManager(item_set, negsync.ManagerConfig(limits={"max_rounds": 3}))  # type: ignore[arg-type]  # the wrong type is the test
    with pytest.raises(TypeError):
        negsync.SyncManager(object())  # type: ignore[arg-type]  # the wrong type is the test


@pytest.mark.parametrize("bad_peer", [b"", b"\x01" * 31, b"\x01" * 33, bytearray(64)])
def test_a_peer_that_is_not_32_bytes_is_refused_clearly(bad_peer: Any) -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set) as manager:
        calls: List[Tuple[str, Callable[[], object]]] = [
            ("start", lambda: manager.start(bad_peer, 0)),
            ("handle", lambda: manager.handle(bad_peer, negsync.INBOUND, b"\x61", 0)),
            ("close", lambda: manager.close_session(bad_peer, negsync.INBOUND)),
        ]
        for name, call in calls:
            with pytest.raises(negsync.NegsyncError) as caught:
                call()
            assert caught.value.code == negsync.NEGSYNC_INVALID_ARGUMENT
            assert f"SyncManager.{name}" in str(caught.value)
            assert f"peer must be exactly 32 bytes, got {len(bad_peer)}" in str(caught.value)
        assert manager.stats == negsync.ManagerStats(*[0] * 13), "nothing reached the library"
        with pytest.raises(TypeError, match="peer"):
            manager.start("b" * 32, 0)  # type: ignore[arg-type]  # the wrong type is the test
        with pytest.raises(TypeError):
            manager.start(None, 0)  # type: ignore[arg-type]  # the wrong type is the test


@pytest.mark.parametrize("direction", [2, 3, -1, 2**32, 2**32 + 1])
def test_a_direction_other_than_outbound_or_inbound_is_refused(direction: int) -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set) as manager:
        manager.start(BOB, 0)
        for call in (lambda: manager.handle(BOB, direction, b"\x61", 0),
                     lambda: manager.close_session(BOB, direction)):
            error = assert_fails_with(negsync.NEGSYNC_INVALID_ARGUMENT, call)
            assert "direction must be negsync.OUTBOUND (0) or negsync.INBOUND (1)" in str(error)
        assert manager.stats.live == 1 and manager.stats.rounds == 0
        for wrong_type in (True, "inbound", 1.0, None):
            with pytest.raises(TypeError, match="direction"):
                manager.handle(BOB, wrong_type, b"\x61", 0)  # type: ignore[arg-type]  # the wrong type is the test


@pytest.mark.parametrize("now", [-1, 2**64])
def test_a_time_outside_uint64_is_refused(now: int) -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(item_set) as manager:
        for call in (lambda: manager.start(BOB, now), lambda: manager.expire(now),
                     lambda: manager.handle(BOB, negsync.INBOUND, b"\x61", now)):
            assert_fails_with(negsync.NEGSYNC_INVALID_ARGUMENT, call)
        assert manager.stats.live == 0


def test_times_span_the_whole_uint64_range() -> None:
    with negsync.ItemSet() as item_set, negsync.SyncManager(
            item_set, negsync.ManagerConfig(idle_timeout=2**64 - 1)) as manager:
        manager.start(BOB, 0)
        assert manager.expire(2**64 - 1) == 0, "idle exactly the (maximal) timeout"
        manager.start(ALICE, 2**64 - 1)
        assert manager.stats.live == 2


# --- The handle's life -----------------------------------------------------------------------


def test_close_without_arguments_frees_the_manager_and_every_use_then_raises() -> None:
    with negsync.ItemSet() as item_set:
        manager = negsync.SyncManager(item_set)
        manager.start(BOB, 0)
        assert repr(manager) == "<negsync.SyncManager live=1>"
        assert not manager.closed
        manager.close()
        assert manager.closed
        manager.close()  # idempotent
        assert repr(manager) == "<negsync.SyncManager closed>"
        for use in (lambda: manager.start(BOB, 0),
                    lambda: manager.handle(BOB, negsync.INBOUND, b"\x61", 0),
                    lambda: manager.close_session(BOB, negsync.OUTBOUND),
                    lambda: manager.expire(0),
                    lambda: manager.stats,
                    lambda: manager.last_error):
            with pytest.raises(ValueError, match="closed SyncManager"):
                use()
        with pytest.raises(ValueError):
            with manager:
                pass
        with pytest.raises(TypeError):
            negsync.SyncManager(item_set).close(BOB, negsync.INBOUND)


def test_the_context_manager_and_the_garbage_collector_free_the_manager() -> None:
    with negsync.ItemSet() as item_set:
        with negsync.SyncManager(item_set) as manager:
            manager.start(BOB, 0)
        assert manager.closed
        for _ in range(200):  # dropped without close(): __del__ frees each one
            dropped = negsync.SyncManager(item_set)
            dropped.start(BOB, 0)
        del dropped
        gc.collect()


def test_returned_values_are_copies_that_outlive_later_calls() -> None:
    a, b = overlapping_sets(15, 300, 10, 10)
    with make_set(a) as alice_set, make_set(b) as bob_set, \
            negsync.SyncManager(alice_set) as alice, negsync.SyncManager(bob_set) as bob:
        first = alice.start(peer(3), 0)
        kept = bytes(first)
        trace = sync(alice, ALICE, bob, BOB, 1)  # many calls later, on both managers
        final = trace.done
        kept_ids = (list(final.have_ids), list(final.need_ids))
        sync(alice, ALICE, bob, BOB, 2)
        alice.close()
        assert first == kept
        assert (final.have_ids, final.need_ids) == kept_ids
        assert_exact(final, a, b)
        with pytest.raises(dataclasses.FrozenInstanceError):
            final.complete = False  # type: ignore[misc]  # the wrong type is the test
