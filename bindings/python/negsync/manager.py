"""SyncManager (the Python face of ``negsync_manager``), with ManagerConfig
(``negsync_manager_config``), ManagerStats (``negsync_manager_stats``) and Handled
(``negsync_handled``)."""

import ctypes
import dataclasses
import enum
from typing import Any, List, Optional, Tuple, Union

from . import _ffi
from ._ffi import BytesArgument, BytesLike
from ._handle import OwnedHandle
from .session import Limits
from .set import ItemSet

#: The header's direction values (``NEGSYNC_DIRECTION_*``), accepted wherever a direction is.
NEGSYNC_DIRECTION_OUTBOUND = 0
NEGSYNC_DIRECTION_INBOUND = 1


class Direction(enum.IntEnum):
    """Which sync with a peer a message belongs to. The transport knows it (one stream per
    session): the peer's reply to a sync we started is ``OUTBOUND``; a sync the peer started
    toward us is ``INBOUND``. Equal to the header's ``NEGSYNC_DIRECTION_*`` ints."""

    OUTBOUND = NEGSYNC_DIRECTION_OUTBOUND
    INBOUND = NEGSYNC_DIRECTION_INBOUND


#: A message answering a sync we started (``negsync.Direction.OUTBOUND``, equal to 0).
OUTBOUND = Direction.OUTBOUND
#: A message of a sync the peer started toward us (``negsync.Direction.INBOUND``, equal to 1).
INBOUND = Direction.INBOUND



def _library_default_config() -> _ffi.ManagerConfigStruct:
    config = _ffi.ManagerConfigStruct()
    _ffi.lib.negsync_manager_config_default(ctypes.byref(config))
    return config


_DEFAULT_CONFIG = _library_default_config()


@dataclasses.dataclass(frozen=True)
class ManagerConfig:
    """How a ``SyncManager`` bounds its work (``negsync_manager_config``).

    Times are in the caller's clock units: any monotonic counter (milliseconds, ticks) the
    application passes as ``now``. Fields left out take the library's defaults;
    ``ManagerConfig.default()`` asks the library afresh.

    - ``max_sessions``: the most sessions alive at once (at least 1); starting one more
      evicts the one idle longest.
    - ``idle_timeout``: a session idle for longer than this is removed by ``expire()``.
    - ``frame_size_limit``: the frame limit of every session: 0 for none, else at least
      ``MIN_FRAME_SIZE_LIMIT`` (128).
    - ``limits``: the ``Limits`` of every session.
    """

    max_sessions: int = int(_DEFAULT_CONFIG.max_sessions)
    idle_timeout: int = int(_DEFAULT_CONFIG.idle_timeout)
    frame_size_limit: int = int(_DEFAULT_CONFIG.frame_size_limit)
    limits: Limits = dataclasses.field(default_factory=Limits)

    @classmethod
    def default(cls) -> "ManagerConfig":
        """The library's default configuration (``negsync_manager_config_default``)."""
        config = _library_default_config()
        return cls(
            config.max_sessions,
            config.idle_timeout,
            config.frame_size_limit,
            Limits(
                config.limits.max_message_size,
                config.limits.max_rounds,
                config.limits.max_id_bytes,
            ),
        )

    def _to_struct(self, where: str) -> _ffi.ManagerConfigStruct:
        if not isinstance(self.limits, Limits):
            raise TypeError(
                f"{where}: config.limits must be a negsync.Limits, "
                f"not {type(self.limits).__name__}"
            )
        return _ffi.ManagerConfigStruct(
            max_sessions=_ffi.check_uint64(self.max_sessions, where, "config.max_sessions"),
            idle_timeout=_ffi.check_uint64(self.idle_timeout, where, "config.idle_timeout"),
            frame_size_limit=_ffi.check_uint64(
                self.frame_size_limit, where, "config.frame_size_limit"
            ),
            limits=self.limits._to_struct(where),
        )


@dataclasses.dataclass(frozen=True)
class ManagerStats:
    """What a manager has done since it was made (``SyncManager.stats``).

    ``started_outbound``/``started_inbound`` count syncs we began and syncs peers began;
    ``completed``, ``failed`` (malformed message, limit, unsupported version), ``expired``,
    ``evicted`` and ``closed`` count how sessions ended; ``rounds`` the messages received;
    ``bytes_in``/``bytes_out`` the bytes received and handed out to send; ``have_total``/
    ``need_total`` the IDs reported by completed outbound syncs; ``live`` the sessions alive now.
    """

    started_outbound: int
    started_inbound: int
    completed: int
    failed: int
    expired: int
    evicted: int
    closed: int
    rounds: int
    bytes_in: int
    bytes_out: int
    have_total: int
    need_total: int
    live: int


@dataclasses.dataclass(frozen=True)
class Handled:
    """What ``SyncManager.handle`` produced (``negsync_handled``), copied out of the library.

    - ``reply``: the message to send back to the peer, or ``None`` for nothing to send.
    - ``complete``: the session is over and the manager has already removed it.
    - ``have_ids``: an outbound sync that just completed: IDs we have and the peer lacks
      (32-byte ``bytes`` each); otherwise empty.
    - ``need_ids``: likewise, IDs the peer has and we lack.
    """

    reply: Optional[bytes]
    complete: bool
    have_ids: List[bytes]
    need_ids: List[bytes]


def _peer_argument(peer: BytesLike, where: str) -> Tuple[BytesArgument, object]:
    return _ffi.exact_id(peer, where, "peer")


def _direction_argument(direction: int, where: str) -> int:
    # bool is an int, but True/False for a direction is a mistake, not a choice.
    if isinstance(direction, bool) or not isinstance(direction, int):
        raise TypeError(
            f"{where}: direction must be negsync.OUTBOUND or negsync.INBOUND, "
            f"not {type(direction).__name__}"
        )
    # Checked here, not only by the library: c_uint32 would wrap 2**32 into OUTBOUND.
    if direction not in (NEGSYNC_DIRECTION_OUTBOUND, NEGSYNC_DIRECTION_INBOUND):
        raise _ffi.invalid_argument(
            where,
            f"direction must be negsync.OUTBOUND ({NEGSYNC_DIRECTION_OUTBOUND}) or "
            f"negsync.INBOUND ({NEGSYNC_DIRECTION_INBOUND}), got {direction!r}",
        )
    return int(direction)


class SyncManager(OwnedHandle):
    """Syncs with many peers at once over one ItemSet: at most one outbound and one inbound
    session per peer, a bound on live sessions, and expiry by the caller's clock.

    A peer is named by a 32-byte ID (an iroh ``EndpointId``, or any 32-byte name). To sync
    toward a peer, ``start(peer, now)`` and send the message; feed each of its replies to
    ``handle(peer, negsync.OUTBOUND, reply, now)`` and send back ``Handled.reply`` until
    ``Handled.complete``, which also carries the ``have_ids``/``need_ids`` of that sync. A
    message from a peer syncing toward us goes to ``handle(peer, negsync.INBOUND, message,
    now)``: its first message begins an inbound session. Both directions with one peer may run
    at once without colliding. A direction is ``negsync.OUTBOUND``/``negsync.INBOUND`` or the
    header's ints ``NEGSYNC_DIRECTION_OUTBOUND`` (0)/``NEGSYNC_DIRECTION_INBOUND`` (1).

    ``now`` is any monotonic counter the application keeps (milliseconds, ticks); call
    ``expire(now)`` from a timer or main loop to drop idle sessions. Every session reads the
    set as it was when that session began. The library keeps the set alive for the manager:
    the ``ItemSet`` may be closed while the manager lives.

    A session that completes, fails or expires is removed at once. Any failure raises
    ``NegsyncError`` (a failure in ``handle`` also removes that session alone); ``last_error``
    holds the library's explanation. ``close()`` frees the manager (as the context manager
    does), after which any use raises ``ValueError``; ``close_session(peer, direction)`` ends
    one session. Calls from several threads are serialized.
    """

    _free_function = "negsync_manager_free"


    def __init__(self, item_set: ItemSet, config: Optional[ManagerConfig] = None) -> None:
        super().__init__()
        where = "SyncManager"
        if not isinstance(item_set, ItemSet):
            raise TypeError(f"{where}: expected a negsync.ItemSet, not {type(item_set).__name__}")
        if config is None:
            config = ManagerConfig()
        elif not isinstance(config, ManagerConfig):
            raise TypeError(
                f"{where}: config must be a negsync.ManagerConfig, not {type(config).__name__}"
            )
        config_struct = config._to_struct(where)
        handle = _ffi.ManagerPointer()
        with item_set._lock:
            _ffi.lib.negsync_manager_new(
                item_set._live_handle(), ctypes.byref(config_struct), ctypes.byref(handle)
            )
        self._adopt(handle)

    def start(self, peer: BytesLike, now: int) -> bytes:
        """Begins a sync toward ``peer`` (32 bytes) at time ``now`` and returns the first
        message to send it (bytes). ``NEGSYNC_WRONG_STATE`` while an outbound sync with that
        peer is already running. When the manager is full, the session idle longest is evicted.
        """
        where = "SyncManager.start"
        peer_argument, peer_alive = _peer_argument(peer, where)
        _ffi.check_uint64(now, where, "now")
        message = ctypes.c_void_p()
        length = ctypes.c_size_t()
        with self._lock:
            _ffi.lib.negsync_manager_start(
                self._live_handle(), peer_argument, now, ctypes.byref(message),
                ctypes.byref(length),
            )
            del peer_alive
            # The library lends the buffer only until the next mutating call on the manager.
            return _ffi.borrowed_bytes(message, length.value)

    def handle(self, peer: BytesLike, direction: int, message: BytesLike, now: int) -> Handled:
        """Feeds one whole message (bytes-like) from ``peer`` at time ``now`` and returns a
        ``Handled``: the reply to send (or ``None``), whether the session is now over, and
        for an outbound sync that just completed, its have/need IDs.

        ``direction`` is ``negsync.OUTBOUND`` for a reply to a sync we started (there must be
        one: otherwise ``NEGSYNC_WRONG_STATE``) and ``negsync.INBOUND`` for a sync the peer
        started (its first message begins a session). Any failure (malformed message, limit,
        unsupported version) fails and removes that session alone.
        """
        where = "SyncManager.handle"
        peer_argument, peer_alive = _peer_argument(peer, where)
        direction = _direction_argument(direction, where)
        _ffi.check_uint64(now, where, "now")
        message_argument, message_length, message_alive = _ffi.readable_bytes(
            message, where, "message"
        )
        out = _ffi.HandledStruct()
        with self._lock:
            _ffi.lib.negsync_manager_handle(
                self._live_handle(), peer_argument, direction, message_argument,
                message_length, now, ctypes.byref(out),
            )
            del peer_alive, message_alive
            # Borrowed until the next mutating call on the manager: copy everything out now.
            return Handled(
                reply=_ffi.borrowed_bytes(out.reply, out.reply_len) if out.reply_len else None,
                complete=bool(out.complete),
                have_ids=_ffi.borrowed_ids(out.have_ids, out.have_count),
                need_ids=_ffi.borrowed_ids(out.need_ids, out.need_count),
            )

    def close_session(self, peer: BytesLike, direction: int) -> bool:
        """Ends the session with ``peer`` in ``direction`` because its stream closed or the
        peer is gone (for an inbound session, also how an exchange ends whose last reply could
        not be known as last). Returns whether there was such a session. (``close()`` frees the
        whole manager.)"""
        where = "SyncManager.close_session"
        peer_argument, peer_alive = _peer_argument(peer, where)
        direction = _direction_argument(direction, where)
        closed = ctypes.c_bool()
        with self._lock:
            _ffi.lib.negsync_manager_close(
                self._live_handle(), peer_argument, direction, ctypes.byref(closed)
            )
        del peer_alive
        return bool(closed.value)

    def expire(self, now: int) -> int:
        """Removes every session idle for longer than ``config.idle_timeout`` at time ``now``
        (idle exactly the timeout is kept) and returns how many were removed."""
        _ffi.check_uint64(now, "SyncManager.expire", "now")
        expired = ctypes.c_size_t()
        with self._lock:
            _ffi.lib.negsync_manager_expire(self._live_handle(), now, ctypes.byref(expired))
        return int(expired.value)

    @property
    def stats(self) -> "ManagerStats":
        """A ``ManagerStats`` snapshot of the manager's counters."""
        stats = _ffi.ManagerStatsStruct()
        with self._lock:
            _ffi.lib.negsync_manager_get_stats(self._live_handle(), ctypes.byref(stats))
        return ManagerStats(
            **{field[0]: getattr(stats, field[0]) for field in _ffi.ManagerStatsStruct._fields_}
        )

    @property
    def last_error(self) -> str:
        """Why the last ``start``/``handle``/``close_session``/``expire`` failed in
        the library; ``""`` after one that succeeded."""
        with self._lock:
            text: bytes = _ffi.lib.negsync_manager_last_error(self._live_handle())
        return text.decode("utf-8", "replace")

    def __repr__(self) -> str:
        if self._handle is None:
            return "<negsync.SyncManager closed>"
        return f"<negsync.SyncManager live={self.stats.live}>"
