"""negsync: Negentropy (V1) set reconciliation, over the libnegsync C ABI (via ctypes).

Two peers each hold an ``ItemSet`` of (timestamp, 32-byte id) items. One side opens a
``Session`` and calls ``initiate()``; the other feeds that message to its own session's
``reconcile()`` and sends back the reply; the two alternate until the initiator's
``reconcile()`` returns ``None``. The initiator then reads ``have_ids`` (ours, the peer lacks
them) and ``need_ids`` (the peer's, we lack them)::

    import negsync
    with negsync.ItemSet() as mine, negsync.ItemSet() as theirs:
        mine.insert(1700000000, negsync.id_for_key("nodes::node-1"))
        with negsync.Session(mine) as initiator, negsync.Session(theirs) as responder:
            message = initiator.initiate()
            while message is not None:
                message = initiator.reconcile(responder.reconcile(message))
            print(initiator.have_ids, initiator.need_ids)

To sync with many peers at once, a ``SyncManager`` keeps one outbound and one inbound
session per 32-byte peer ID, bounded and expiring by the caller's clock::

    with negsync.SyncManager(mine) as manager:
        message = manager.start(peer_id, now)            # send it to the peer
        handled = manager.handle(peer_id, negsync.OUTBOUND, reply, now)
        # ... send handled.reply until handled.complete; then handled.have_ids/need_ids
        manager.handle(peer_id, negsync.INBOUND, message_from_peer, now)  # peer syncs to us
        manager.expire(now)

The library is looked up in this order: the path in the environment variable
``NEGSYNC_LIB``; the copy inside this package (``pip install`` builds and puts it there); this
repository's ``target/release`` (what ``make lib`` writes; ``cargo build --release`` builds no C
library); ``ctypes.util.find_library("negsync")``.

Errors: every refusal by the library, and arguments Python can check first, raise
``NegsyncError`` (``.code`` is one of the ``NEGSYNC_*`` constants), as the subclass for its code:
``NullParameter``, ``InvalidArgument``, ``MalformedMessage``, ``UnsupportedVersion``,
``WrongState``, ``LimitExceeded``, ``Panic``, ``Internal``, ``NoMemory``. Using a closed ``ItemSet``,
``Session`` or ``SyncManager`` raises ``ValueError``; passing the wrong type raises
``TypeError``.
"""

import ctypes
from typing import Tuple, Union

from . import _ffi
from .errors import (
    NEGSYNC_INTERNAL,
    NEGSYNC_INVALID_ARGUMENT,
    NEGSYNC_LIMIT_EXCEEDED,
    NEGSYNC_MALFORMED_MESSAGE,
    NEGSYNC_NO_MEMORY,
    NEGSYNC_NULL_PARAMETER,
    NEGSYNC_OK,
    NEGSYNC_PANIC,
    NEGSYNC_UNSUPPORTED_VERSION,
    NEGSYNC_WRONG_STATE,
    Internal,
    InvalidArgument,
    LimitExceeded,
    MalformedMessage,
    NegsyncError,
    NoMemory,
    NullParameter,
    Panic,
    UnsupportedVersion,
    WrongState,
)
from .session import (
    NEGSYNC_ROLE_INITIATOR,
    NEGSYNC_ROLE_RESPONDER,
    NEGSYNC_ROLE_UNDECIDED,
    Limits,
    Session,
    SessionStats,
)
from .manager import (
    INBOUND,
    NEGSYNC_DIRECTION_INBOUND,
    NEGSYNC_DIRECTION_OUTBOUND,
    OUTBOUND,
    Direction,
    Handled,
    ManagerConfig,
    ManagerStats,
    SyncManager,
)
from .set import ItemSet

#: The version of the loaded library (``negsync_version()``), e.g. "0.1.0".
__version__ = _ffi.library_version

#: Bytes in a document ID.
NEGSYNC_ID_SIZE = _ffi.ID_SIZE
NEGSYNC_PEER_ID_SIZE = 32
#: The smallest frame size limit a session accepts (0 means none); 4096 and up match every
#: other V1 implementation byte for byte, 128 to 4095 is negsync's own framing for radio links.
NEGSYNC_MIN_FRAME_SIZE_LIMIT = 128
MIN_FRAME_SIZE_LIMIT = NEGSYNC_MIN_FRAME_SIZE_LIMIT

__all__ = [
    "NEGSYNC_ROLE_UNDECIDED",
    "NEGSYNC_ROLE_INITIATOR",
    "NEGSYNC_ROLE_RESPONDER",
    "SessionStats",
    "__version__",
    "NEGSYNC_ID_SIZE",
    "NEGSYNC_PEER_ID_SIZE",
    "NEGSYNC_MIN_FRAME_SIZE_LIMIT",
    "MIN_FRAME_SIZE_LIMIT",
    "ItemSet",
    "Session",
    "Limits",
    "NegsyncError",
    "NullParameter",
    "InvalidArgument",
    "MalformedMessage",
    "UnsupportedVersion",
    "WrongState",
    "LimitExceeded",
    "Panic",
    "Internal",
    "NoMemory",
    "id_for_key",
    "id_for_version",
    "result_str",
    "NEGSYNC_OK",
    "NEGSYNC_NULL_PARAMETER",
    "NEGSYNC_INVALID_ARGUMENT",
    "NEGSYNC_MALFORMED_MESSAGE",
    "NEGSYNC_UNSUPPORTED_VERSION",
    "NEGSYNC_WRONG_STATE",
    "NEGSYNC_LIMIT_EXCEEDED",
    "NEGSYNC_PANIC",
    "NEGSYNC_INTERNAL",
    "NEGSYNC_NO_MEMORY",
    "SyncManager",
    "ManagerConfig",
    "ManagerStats",
    "Handled",
    "Direction",
    "OUTBOUND",
    "INBOUND",
    "NEGSYNC_DIRECTION_OUTBOUND",
    "NEGSYNC_DIRECTION_INBOUND",
]


def _utf8_or_bytes(
    value: Union[str, _ffi.BytesLike], where: str, what: str
) -> Tuple[_ffi.BytesArgument, int, object]:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _ffi.readable_bytes(value, where, what)


def id_for_key(key: Union[str, _ffi.BytesLike]) -> bytes:
    """The ID of a document known by its key alone: SHA-256(key), 32 bytes.

    ``key`` is bytes-like, or a str (encoded as UTF-8).
    """
    key_argument, key_length, keep_alive = _utf8_or_bytes(key, "id_for_key", "key")
    out = (ctypes.c_char * _ffi.ID_SIZE)()
    _ffi.lib.negsync_id_for_key(key_argument, key_length, out)
    del keep_alive
    return out.raw


def id_for_version(key: Union[str, _ffi.BytesLike], version: Union[str, _ffi.BytesLike]) -> bytes:
    """The ID of one version of a document: SHA-256(u64_le(len(key)) || key || version).

    ``version`` is a content hash or the CRDT heads, so a changed document gets a new ID
    (remove the old item, insert the new one). Both arguments are bytes-like, or str (UTF-8).
    """
    key_argument, key_length, key_alive = _utf8_or_bytes(key, "id_for_version", "key")
    version_argument, version_length, version_alive = _utf8_or_bytes(
        version, "id_for_version", "version"
    )
    out = (ctypes.c_char * _ffi.ID_SIZE)()
    _ffi.lib.negsync_id_for_version(
        key_argument, key_length, version_argument, version_length, out
    )
    del key_alive, version_alive
    return out.raw


def result_str(code: int) -> str:
    """The library's description of a result code (``negsync_result_str``)."""
    return _ffi.result_str(code)
