"""Session (the Python face of ``negsync_session``) and Limits (``negsync_limits``)."""

import ctypes
import dataclasses
from typing import Any, Callable, List, Optional, Tuple

from . import _ffi
from ._ffi import BytesLike
from ._handle import OwnedHandle
from .set import ItemSet


def _library_default_limits() -> _ffi.LimitsStruct:
    limits = _ffi.LimitsStruct()
    _ffi.lib.negsync_limits_default(ctypes.byref(limits))
    return limits


_DEFAULT_LIMITS = _library_default_limits()


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a peer may make one session do, at most (``negsync_limits``).

    Exceeding one fails the session with ``NEGSYNC_LIMIT_EXCEEDED``. Fields left out take the
    library's defaults, so ``Limits(max_rounds=50)`` lowers only the round count;
    ``Limits.default()`` asks the library afresh.

    - ``max_message_size``: the largest message accepted from the peer, in bytes.
    - ``max_rounds``: the most messages accepted from the peer in one session.
    - ``max_id_bytes``: the most bytes the have and need lists may hold together (32 per ID).
    """

    max_message_size: int = int(_DEFAULT_LIMITS.max_message_size)
    max_rounds: int = int(_DEFAULT_LIMITS.max_rounds)
    max_id_bytes: int = int(_DEFAULT_LIMITS.max_id_bytes)

    @classmethod
    def default(cls) -> "Limits":
        """The library's default limits (``negsync_limits_default``)."""
        limits = _library_default_limits()
        return cls(limits.max_message_size, limits.max_rounds, limits.max_id_bytes)

    def _to_struct(self, where: str) -> _ffi.LimitsStruct:
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values[field.name] = _ffi.check_uint64(value, where, f"limits.{field.name}")
        return _ffi.LimitsStruct(**values)


NEGSYNC_ROLE_UNDECIDED = 0
NEGSYNC_ROLE_INITIATOR = 1
NEGSYNC_ROLE_RESPONDER = 2
ROLE_NAMES = {
    NEGSYNC_ROLE_UNDECIDED: "undecided",
    NEGSYNC_ROLE_INITIATOR: "initiator",
    NEGSYNC_ROLE_RESPONDER: "responder",
}


@dataclasses.dataclass(frozen=True)
class SessionStats:
    """What a session has done so far (``Session.stats``).

    ``role`` is ``"undecided"``, ``"initiator"`` or ``"responder"``; ``rounds`` counts messages
    received; ``bytes_in``/``bytes_out`` the bytes received and handed out to send;
    ``have_count``/``need_count`` the IDs found so far (initiator only, else 0).
    """

    role: str
    complete: bool
    failed: bool
    rounds: int
    bytes_in: int
    bytes_out: int
    have_count: int
    need_count: int


class _IdCache:
    """The IDs of one of a session's lists copied out so far. The library's have and need lists
    only grow, in the order found (until ``forget_ids()``, which starts a new cache), and it
    lends the whole list on every read: so each read copies out only the IDs added since the
    previous one, and hands out the same tuple while nothing was added."""

    def __init__(self) -> None:
        self.ids: Tuple[bytes, ...] = ()

    def update(self, lent: ctypes.c_void_p, count: int) -> Tuple[bytes, ...]:
        known = len(self.ids)
        if count > known:
            size = _ffi.ID_SIZE
            if lent.value is None:
                raise AssertionError("negsync lent a NULL ID list with a non-zero count")
            blob = ctypes.string_at(lent.value + known * size, (count - known) * size)
            self.ids += tuple(blob[start : start + size] for start in range(0, len(blob), size))
        return self.ids


class Session(OwnedHandle):
    """One reconciliation with one peer, over a snapshot of an ItemSet taken at creation.

    The initiator calls ``initiate()`` and sends the message; the responder feeds it to
    ``reconcile()`` and sends back the reply; the initiator feeds that to its ``reconcile()``,
    and so on, until the initiator's ``reconcile()`` returns ``None``. Only the initiator then
    knows the differences: ``have_ids`` (ours, the peer lacks them) and ``need_ids`` (the
    peer's, we lack them).

    ``frame_size_limit`` bounds every message this side sends: 0 for none, else at least
    ``MIN_FRAME_SIZE_LIMIT`` (128; radio links). ``limits`` bounds what the peer may make this
    session do (see ``Limits``). ``window=(start, end)`` reconciles only the items whose
    timestamps fall in ``[start, end)`` (both peers must use the same window; a view, no copy).

    The session keeps no reference to the set: the library gave it its own snapshot. Any
    failure raises ``NegsyncError``; after a malformed message, an unsupported version or an
    exceeded limit the session has failed and refuses further input with
    ``NEGSYNC_WRONG_STATE``. A closed session raises ``ValueError`` on any use. Calls from
    several threads are serialized (the library forbids concurrent use of one session).
    """

    _free_function = "negsync_session_free"


    def __init__(
        self,
        item_set: ItemSet,
        frame_size_limit: int = 0,
        *,
        limits: Optional[Limits] = None,
        window: Optional[Tuple[int, int]] = None,
    ) -> None:
        super().__init__()
        where = "Session"
        if not isinstance(item_set, ItemSet):
            raise TypeError(f"{where}: expected a negsync.ItemSet, not {type(item_set).__name__}")
        _ffi.check_uint64(frame_size_limit, where, "frame_size_limit")
        limits_struct = None if limits is None else limits._to_struct(where)
        self._have_cache = _IdCache()
        self._need_cache = _IdCache()
        handle = _ffi.SessionPointer()
        with item_set._lock:
            if window is None:
                _ffi.lib.negsync_session_new(
                    item_set._live_handle(), frame_size_limit, ctypes.byref(handle)
                )
            else:
                start, end = window
                _ffi.check_uint64(start, where, "window start")
                _ffi.check_uint64(end, where, "window end")
                _ffi.lib.negsync_session_new_window(
                    item_set._live_handle(), start, end, frame_size_limit, ctypes.byref(handle)
                )
        if limits_struct is not None:
            try:
                _ffi.lib.negsync_session_set_limits(handle, ctypes.byref(limits_struct))
            except BaseException:
                _ffi.lib.negsync_session_free(handle)
                raise
        self._adopt(handle)

    def initiate(self) -> bytes:
        """Makes this session the initiator and returns the first message to send (bytes).

        Allowed once, before any ``reconcile()``; otherwise ``NEGSYNC_WRONG_STATE``.
        """
        message = ctypes.c_void_p()
        length = ctypes.c_size_t()
        with self._lock:
            _ffi.lib.negsync_session_initiate(
                self._live_handle(), ctypes.byref(message), ctypes.byref(length)
            )
            # The library lends the buffer only until the next call on this session.
            return _ffi.borrowed_bytes(message, length.value)

    def reconcile(self, message: BytesLike) -> Optional[bytes]:
        """Feeds one whole message from the peer (bytes-like) and returns the reply to send,
        or ``None`` when this side has nothing to send.

        A session that never called ``initiate()`` becomes the responder. ``is_complete``
        tells whether the exchange is over for this side: for the initiator, exactly when this
        returns ``None``; a responder completes with a reply (send it) that leaves the peer
        nothing to ask, but the initiator may finish earlier, so a responder also treats the
        initiator's silence as the end.
        """
        message_argument, message_length, keep_alive = _ffi.readable_bytes(
            message, "Session.reconcile", "message"
        )
        reply = ctypes.c_void_p()
        reply_length = ctypes.c_size_t()
        complete = ctypes.c_bool()
        with self._lock:
            _ffi.lib.negsync_session_reconcile(
                self._live_handle(),
                message_argument,
                message_length,
                ctypes.byref(reply),
                ctypes.byref(reply_length),
                ctypes.byref(complete),
            )
            del keep_alive
            if reply_length.value == 0:
                return None
            return _ffi.borrowed_bytes(reply, reply_length.value)

    def _id_list(self, function: Callable[..., int], cache: "_IdCache") -> Tuple[bytes, ...]:
        ids = ctypes.c_void_p()
        count = ctypes.c_size_t()
        with self._lock:
            function(self._live_handle(), ctypes.byref(ids), ctypes.byref(count))
            return cache.update(ids, count.value)

    @property
    def have_ids(self) -> Tuple[bytes, ...]:
        """Initiator only: IDs we have and the peer lacks, found so far, each once, in the order
        found, as a tuple of 32-byte ``bytes``. ``NEGSYNC_WRONG_STATE`` for a responder or before
        ``initiate()``. Each ID is copied out of the library once: reading again after a round
        copies only the IDs that round found.
        """
        return self._id_list(_ffi.lib.negsync_session_have_ids, self._have_cache)

    @property
    def need_ids(self) -> Tuple[bytes, ...]:
        """Initiator only: IDs the peer has and we lack; otherwise as ``have_ids``."""
        return self._id_list(_ffi.lib.negsync_session_need_ids, self._need_cache)

    def forget_ids(self) -> None:
        """Initiator only: forgets the have/need IDs found so far (read them first), so that
        ``have_ids`` and ``need_ids`` then hold only what later rounds find; ``stats`` still
        counts them. For a node that acts on IDs as each round brings them: the session's
        memory is then bounded by one round's findings, not by the number of differences. A
        forgotten ID can be listed again (under frame limits a V1 peer's cut makes it look at
        settled ranges again; a faulty peer can repeat any ID): act on IDs idempotently.
        ``NEGSYNC_WRONG_STATE`` for a responder or before ``initiate()``.
        """
        with self._lock:
            _ffi.lib.negsync_session_forget_ids(self._live_handle())
            self._have_cache = _IdCache()
            self._need_cache = _IdCache()

    @property
    def is_complete(self) -> bool:
        """True when the exchange is over for this side."""
        with self._lock:
            return bool(_ffi.lib.negsync_session_is_complete(self._live_handle()))

    @property
    def stats(self) -> SessionStats:
        """A ``SessionStats`` snapshot of what the session has done so far."""
        stats = _ffi.SessionStatsStruct()
        with self._lock:
            _ffi.lib.negsync_session_get_stats(self._live_handle(), ctypes.byref(stats))
        return SessionStats(
            role=ROLE_NAMES.get(stats.role, f"unknown role {stats.role}"),
            complete=bool(stats.complete),
            failed=bool(stats.failed),
            rounds=stats.rounds,
            bytes_in=stats.bytes_in,
            bytes_out=stats.bytes_out,
            have_count=stats.have_count,
            need_count=stats.need_count,
        )

    @property
    def last_error(self) -> str:
        """Why the last ``initiate()``/``reconcile()``/``limits`` assignment failed; ``""`` after
        one that succeeded."""
        with self._lock:
            text: bytes = _ffi.lib.negsync_session_last_error(self._live_handle())
        return text.decode("utf-8", "replace")

    @property
    def limits(self) -> Limits:
        """The session's current ``Limits``; assign a new ``Limits`` to replace them (they
        apply from the next message on)."""
        limits = _ffi.LimitsStruct()
        with self._lock:
            _ffi.lib.negsync_session_get_limits(self._live_handle(), ctypes.byref(limits))
        return Limits(limits.max_message_size, limits.max_rounds, limits.max_id_bytes)

    @limits.setter
    def limits(self, limits: Limits) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"Session.limits must be a negsync.Limits, not {type(limits).__name__}")
        limits_struct = limits._to_struct("Session.limits")
        with self._lock:
            _ffi.lib.negsync_session_set_limits(self._live_handle(), ctypes.byref(limits_struct))

    def __repr__(self) -> str:
        if self._handle is None:
            return "<negsync.Session closed>"
        state = "complete" if self.is_complete else "open"
        return f"<negsync.Session {state}>"
