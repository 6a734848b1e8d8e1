"""ItemSet: the Python face of ``negsync_set``."""

import array
import ctypes
from typing import Iterator, List, Tuple

from . import _ffi
from ._ffi import BytesLike, Timestamps
from ._handle import OwnedHandle
from .errors import NegsyncError

#: One item of a set: (timestamp, 32-byte id).
Item = Tuple[int, bytes]


class ItemSet(OwnedHandle):
    """A mutable set of (timestamp, 32-byte id) items, the thing two peers reconcile.

    Items are distinct by (timestamp, id); inserting one already present, or removing one
    absent, does nothing. Timestamps are the document's own time (never the time of the sync)
    in 0..2**64-2: 2**64-1 is reserved by the protocol.

    Sessions take a snapshot when created (``Session(item_set)``): later changes to the set
    do not affect them, and the set may be closed while they live.

    Use it as a context manager or call ``close()``; a closed set raises ``ValueError`` on
    any use, like a closed file. Invalid arguments raise ``NegsyncError`` with
    ``NEGSYNC_INVALID_ARGUMENT``. Safe to share between threads.

    ``(timestamp, id) in item_set`` asks the library; iterating (or ``items()``) yields the
    items as ``(timestamp, id)`` pairs in protocol order (ascending timestamp, then id), from one
    consistent state of the set copied out at once.
    """

    _free_function = "negsync_set_free"

    def __init__(self) -> None:
        super().__init__()
        handle = _ffi.SetPointer()
        _ffi.lib.negsync_set_new(ctypes.byref(handle))
        self._adopt(handle)

    def insert(self, timestamp: int, id: BytesLike) -> None:
        """Adds the item (timestamp, id); ``id`` is 32 bytes (bytes-like)."""
        where = "ItemSet.insert"
        _ffi.check_uint64(timestamp, where, "timestamp")
        id_argument, keep_alive = _ffi.exact_id(id, where)
        with self._lock:
            _ffi.lib.negsync_set_insert(self._live_handle(), timestamp, id_argument)
        del keep_alive

    def insert_many(self, timestamps: Timestamps, ids: BytesLike) -> None:
        """Adds ``len(timestamps)`` items in one library call: ``timestamps[i]`` with the ID at
        ``ids[32*i : 32*i+32]``.

        ``timestamps`` is any sequence of ints (converted once with ``array('Q', ...)``), or
        a buffer of native uint64 (``array('Q')``, a numpy uint64 array), read in place; a
        byte buffer is refused with ``TypeError``. ``ids`` is one bytes-like blob of
        ``32 * len(timestamps)`` bytes (``bytes``, ``bytearray``, ``memoryview``), read in
        place too (a read-only view into something other than a whole ``bytes`` is copied
        once). All or nothing: if any timestamp is refused, no item is added.
        """
        where = "ItemSet.insert_many"
        timestamp_array, count, timestamps_alive = _ffi.uint64_array(timestamps, where)
        ids_argument, ids_length, ids_alive = _ffi.readable_bytes(ids, where, "ids")
        if ids_length != count * _ffi.ID_SIZE:
            raise _ffi.invalid_argument(
                where,
                f"ids holds {ids_length} bytes, but {count} timestamps need "
                f"{count * _ffi.ID_SIZE} ({_ffi.ID_SIZE} per item)",
            )
        with self._lock:
            _ffi.lib.negsync_set_insert_many(
                self._live_handle(), timestamp_array, ids_argument, count
            )
        del timestamps_alive, ids_alive

    def remove(self, timestamp: int, id: BytesLike) -> None:
        """Removes the item (timestamp, id) if present. When a document changes, remove its
        old item and insert the new one (see ``id_for_version``)."""
        where = "ItemSet.remove"
        _ffi.check_uint64(timestamp, where, "timestamp")
        id_argument, keep_alive = _ffi.exact_id(id, where)
        with self._lock:
            _ffi.lib.negsync_set_remove(self._live_handle(), timestamp, id_argument)
        del keep_alive

    def reserve(self, count: int) -> None:
        """Makes room for ``count`` more items, exactly, so that filling a set of known size
        allocates once."""
        if not isinstance(count, int) or count < 0:
            raise _ffi.invalid_argument("ItemSet.reserve", "count must be a non-negative int")
        with self._lock:
            _ffi.lib.negsync_set_reserve(self._live_handle(), count)

    def __len__(self) -> int:
        """The number of distinct items."""
        with self._lock:
            count: int = _ffi.lib.negsync_set_len(self._live_handle())
            return count

    def __contains__(self, item: object) -> bool:
        """``(timestamp, id) in item_set``: whether the set holds exactly this item. Anything that
        is not a (timestamp, 32-byte id) pair is simply not in the set."""
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        timestamp, id = item
        if not isinstance(timestamp, int) or not 0 <= timestamp <= _ffi.UINT64_MAX:
            return False
        try:
            id_argument, keep_alive = _ffi.exact_id(id, "ItemSet.__contains__")
        except (TypeError, NegsyncError):
            return False
        found = ctypes.c_bool()
        with self._lock:
            _ffi.lib.negsync_set_contains(
                self._live_handle(), timestamp, id_argument, ctypes.byref(found)
            )
        del keep_alive
        return bool(found.value)

    def items(self) -> List[Item]:
        """Every item as a ``(timestamp, id)`` pair, sorted (ascending timestamp, then id): one
        copy of the set as it is now (``negsync_set_copy_items``), however other threads change
        it meanwhile."""
        capacity = len(self)
        while True:
            timestamps = (ctypes.c_uint64 * max(capacity, 1))()
            ids = ctypes.create_string_buffer(max(capacity, 1) * _ffi.ID_SIZE)
            copied = ctypes.c_size_t()
            total = ctypes.c_size_t()
            with self._lock:
                _ffi.lib.negsync_set_copy_items(
                    self._live_handle(), 0, timestamps, ids, capacity,
                    ctypes.byref(copied), ctypes.byref(total),
                )
            if total.value <= capacity:
                break
            # Another thread inserted meanwhile: all again, with room to spare so that a set
            # that keeps growing is still caught (the room doubles each time).
            capacity = max(total.value, 2 * capacity, 16)
        count = copied.value
        stamps = array.array("Q", bytes(timestamps)[: count * 8])
        blob = ids.raw
        size = _ffi.ID_SIZE
        return [(stamps[i], blob[i * size : (i + 1) * size]) for i in range(count)]

    def __iter__(self) -> Iterator[Item]:
        """Iterates ``items()``: a copy taken when iteration starts."""
        return iter(self.items())

    def close(self) -> None:
        """Frees the set. Idempotent. Sessions and managers created from it keep working."""
        self._free()

    def __repr__(self) -> str:
        if self._handle is None:
            return "<negsync.ItemSet closed>"
        return f"<negsync.ItemSet items={len(self)}>"
