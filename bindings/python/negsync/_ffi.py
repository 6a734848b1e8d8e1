"""Finds libnegsync, declares its C ABI for ctypes, and moves bytes across it. Private.

Every function of ``include/negsync.h`` is declared in ``SIGNATURES`` with its exact argument
and result types: ctypes otherwise assumes an ``int`` result, which truncates 64-bit pointers,
and converts arguments by guesswork. Functions returning a ``negsync_result`` get an errcheck
that raises ``NegsyncError`` for anything but ``NEGSYNC_OK``.
"""

import array
import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union, cast

from .errors import NEGSYNC_INVALID_ARGUMENT, NEGSYNC_OK, NegsyncError

#: What the binding accepts as bytes: bytes, bytearray, memoryview, array, ...
BytesLike = Union[bytes, bytearray, memoryview, "array.array[int]"]
#: Timestamps for ItemSet.insert_many: any iterable of ints, or a buffer of native uint64.
Timestamps = Union[Iterable[int], memoryview, "array.array[int]"]
#: What may be passed for a `const uint8_t *` (BytesIn) parameter.
BytesArgument = Union[bytes, "ctypes.Array[ctypes.c_char]", None]

ID_SIZE = 32

#: The header version this module was written against (NEGSYNC_VERSION_MAJOR/MINOR/PATCH).
#: A library is accepted when semver says it is compatible: same major, and for 0.x same minor.
HEADER_VERSION = (0, 1, 0)

UINT64_MAX = 2**64 - 1

PACKAGE_DIR = Path(__file__).resolve().parent
# bindings/python/negsync -> the repository root's target/release, where `make lib` writes the
# library (`cargo build --release` does not: it builds the Rust library only).
REPO_BUILD_DIR = PACKAGE_DIR.parent.parent.parent / "target" / "release"

if sys.platform == "darwin":
    LIBRARY_FILE_NAME = "libnegsync.dylib"
elif sys.platform == "win32":
    LIBRARY_FILE_NAME = "negsync.dll"
else:
    LIBRARY_FILE_NAME = "libnegsync.so"


# Opaque handle types: distinct pointer types make ctypes refuse a session where a set belongs.
class SetHandle(ctypes.Structure):
    """The C ``negsync_set``; only ever used through a pointer."""


class SessionHandle(ctypes.Structure):
    """The C ``negsync_session``; only ever used through a pointer."""


class ManagerHandle(ctypes.Structure):
    """The C ``negsync_manager``; only ever used through a pointer."""


class LimitsStruct(ctypes.Structure):
    """The C ``negsync_limits``, field for field."""

    _fields_ = [
        ("max_message_size", ctypes.c_uint64),
        ("max_rounds", ctypes.c_uint64),
        ("max_id_bytes", ctypes.c_uint64),
    ]


class SessionStatsStruct(ctypes.Structure):
    """The C ``negsync_session_stats``, field for field."""

    _fields_ = [
        ("role", ctypes.c_uint32),
        ("complete", ctypes.c_bool),
        ("failed", ctypes.c_bool),
        ("rounds", ctypes.c_uint64),
        ("bytes_in", ctypes.c_uint64),
        ("bytes_out", ctypes.c_uint64),
        ("have_count", ctypes.c_uint64),
        ("need_count", ctypes.c_uint64),
    ]


class ManagerConfigStruct(ctypes.Structure):
    """The C ``negsync_manager_config``, field for field."""

    _fields_ = [
        ("max_sessions", ctypes.c_uint64),
        ("idle_timeout", ctypes.c_uint64),
        ("frame_size_limit", ctypes.c_uint64),
        ("limits", LimitsStruct),
    ]


class ManagerStatsStruct(ctypes.Structure):
    """The C ``negsync_manager_stats``, field for field."""

    _fields_ = [
        ("started_outbound", ctypes.c_uint64),
        ("started_inbound", ctypes.c_uint64),
        ("completed", ctypes.c_uint64),
        ("failed", ctypes.c_uint64),
        ("expired", ctypes.c_uint64),
        ("evicted", ctypes.c_uint64),
        ("closed", ctypes.c_uint64),
        ("rounds", ctypes.c_uint64),
        ("bytes_in", ctypes.c_uint64),
        ("bytes_out", ctypes.c_uint64),
        ("have_total", ctypes.c_uint64),
        ("need_total", ctypes.c_uint64),
        ("live", ctypes.c_uint64),
    ]


class HandledStruct(ctypes.Structure):
    """The C ``negsync_handled``, field for field. Its pointers are borrowed from the manager
    (valid until the next mutating call on it), so they are declared as void pointers and
    copied out at once with ``borrowed_bytes``."""

    _fields_ = [
        ("reply", ctypes.c_void_p),
        ("reply_len", ctypes.c_size_t),
        ("complete", ctypes.c_bool),
        ("have_ids", ctypes.c_void_p),
        ("have_count", ctypes.c_size_t),
        ("need_ids", ctypes.c_void_p),
        ("need_count", ctypes.c_size_t),
    ]


SetPointer = ctypes.POINTER(SetHandle)
SessionPointer = ctypes.POINTER(SessionHandle)
ManagerPointer = ctypes.POINTER(ManagerHandle)
Result = ctypes.c_uint32
# `const uint8_t *` inputs are declared as void pointers because c_void_p accepts `bytes` (no
# copy), ctypes arrays laid over a caller's buffer (no copy) and None, which is every form we pass.
BytesIn = ctypes.c_void_p
BorrowedBytesOut = ctypes.POINTER(ctypes.c_void_p)
SizeOut = ctypes.POINTER(ctypes.c_size_t)

CHECKED = "checked"  # returns negsync_result: raise on failure
SESSION_CHECKED = "session"  # as CHECKED, and the session's last_error explains the failure
MANAGER_CHECKED = "manager"  # as CHECKED, and the manager's last_error explains the failure
UNCHECKED = "unchecked"  # returns a value, not a result code

#: name -> (restype, argtypes, how the result is checked). One entry per function in the header.
SIGNATURES = {
    "negsync_id_for_key": (Result, [BytesIn, ctypes.c_size_t, BytesIn], CHECKED),
    "negsync_id_for_version": (
        Result,
        [BytesIn, ctypes.c_size_t, BytesIn, ctypes.c_size_t, BytesIn],
        CHECKED,
    ),
    "negsync_limits_default": (Result, [ctypes.POINTER(LimitsStruct)], CHECKED),
    # set_limits and get_limits do not write last_error, so their failures carry no session detail.
    "negsync_session_set_limits": (
        Result,
        [SessionPointer, ctypes.POINTER(LimitsStruct)],
        CHECKED,
    ),
    "negsync_session_get_limits": (
        Result,
        [SessionPointer, ctypes.POINTER(LimitsStruct)],
        CHECKED,
    ),
    "negsync_result_str": (ctypes.c_char_p, [Result], UNCHECKED),
    "negsync_session_new": (
        Result,
        [SetPointer, ctypes.c_uint64, ctypes.POINTER(SessionPointer)],
        CHECKED,
    ),
    "negsync_session_new_window": (
        Result,
        [SetPointer, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.POINTER(SessionPointer)],
        CHECKED,
    ),
    "negsync_session_initiate": (
        Result,
        [SessionPointer, BorrowedBytesOut, SizeOut],
        SESSION_CHECKED,
    ),
    "negsync_session_reconcile": (
        Result,
        [
            SessionPointer,
            BytesIn,
            ctypes.c_size_t,
            BorrowedBytesOut,
            SizeOut,
            ctypes.POINTER(ctypes.c_bool),
        ],
        SESSION_CHECKED,
    ),
    # have/need are read-only calls: last_error may still describe an older failure, so it is
    # not attached to theirs.
    "negsync_session_have_ids": (Result, [SessionPointer, BorrowedBytesOut, SizeOut], CHECKED),
    "negsync_session_need_ids": (Result, [SessionPointer, BorrowedBytesOut, SizeOut], CHECKED),
    "negsync_session_forget_ids": (Result, [SessionPointer], SESSION_CHECKED),
    "negsync_session_is_complete": (ctypes.c_bool, [SessionPointer], UNCHECKED),
    "negsync_session_get_stats": (
        Result, [SessionPointer, ctypes.POINTER(SessionStatsStruct)], CHECKED
    ),
    "negsync_session_last_error": (ctypes.c_char_p, [SessionPointer], UNCHECKED),
    "negsync_session_free": (None, [SessionPointer], UNCHECKED),
    "negsync_set_new": (Result, [ctypes.POINTER(SetPointer)], CHECKED),
    "negsync_set_insert": (Result, [SetPointer, ctypes.c_uint64, BytesIn], CHECKED),
    "negsync_set_insert_many": (
        Result,
        [SetPointer, ctypes.POINTER(ctypes.c_uint64), BytesIn, ctypes.c_size_t],
        CHECKED,
    ),
    "negsync_set_remove": (Result, [SetPointer, ctypes.c_uint64, BytesIn], CHECKED),
    "negsync_set_reserve": (Result, [SetPointer, ctypes.c_size_t], CHECKED),
    "negsync_set_len": (ctypes.c_size_t, [SetPointer], UNCHECKED),
    "negsync_set_contains": (
        Result, [SetPointer, ctypes.c_uint64, BytesIn, ctypes.POINTER(ctypes.c_bool)], CHECKED
    ),
    "negsync_set_copy_items": (
        Result,
        [SetPointer, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64), BytesIn, ctypes.c_size_t,
         SizeOut, SizeOut],
        CHECKED,
    ),
    "negsync_set_free": (None, [SetPointer], UNCHECKED),
    "negsync_version": (ctypes.c_char_p, [], UNCHECKED),
    "negsync_manager_config_default": (
        Result, [ctypes.POINTER(ManagerConfigStruct)], CHECKED
    ),
    "negsync_manager_new": (
        Result,
        [SetPointer, ctypes.POINTER(ManagerConfigStruct), ctypes.POINTER(ManagerPointer)],
        CHECKED,
    ),
    "negsync_manager_start": (
        Result,
        [ManagerPointer, BytesIn, ctypes.c_uint64, BorrowedBytesOut, SizeOut],
        MANAGER_CHECKED,
    ),
    "negsync_manager_handle": (
        Result,
        [
            ManagerPointer,
            BytesIn,
            ctypes.c_uint32,
            BytesIn,
            ctypes.c_size_t,
            ctypes.c_uint64,
            ctypes.POINTER(HandledStruct),
        ],
        MANAGER_CHECKED,
    ),
    "negsync_manager_close": (
        Result,
        [ManagerPointer, BytesIn, ctypes.c_uint32, ctypes.POINTER(ctypes.c_bool)],
        MANAGER_CHECKED,
    ),
    "negsync_manager_expire": (
        Result, [ManagerPointer, ctypes.c_uint64, SizeOut], MANAGER_CHECKED
    ),
    # A read-only call: last_error may still describe an older failure, so it is not attached.
    "negsync_manager_get_stats": (
        Result, [ManagerPointer, ctypes.POINTER(ManagerStatsStruct)], CHECKED
    ),
    "negsync_manager_last_error": (ctypes.c_char_p, [ManagerPointer], UNCHECKED),
    "negsync_manager_free": (None, [ManagerPointer], UNCHECKED),
    # For tests of the panic boundary only; not part of the Python API.
    "negsync_debug_panic": (Result, [SessionPointer], SESSION_CHECKED),
}


def library_candidates() -> List[Tuple[str, Union[Path, str, None]]]:
    """The places searched for the library, in order, as (description, path or name) pairs.

    NEGSYNC_LIB is handled by the caller: when it is set, nothing else is tried.
    """
    candidates: List[Tuple[str, Union[Path, str, None]]] = [
        ("copy inside the package", PACKAGE_DIR / LIBRARY_FILE_NAME),
        (
            "a repository checkout's `make lib` output (target/release)",
            REPO_BUILD_DIR / LIBRARY_FILE_NAME,
        ),
    ]
    system_name = ctypes.util.find_library("negsync")
    candidates.append(("ctypes.util.find_library('negsync')", system_name))
    return candidates


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Loads libnegsync and returns (CDLL, the path or name it was loaded from)."""
    explicit = os.environ.get("NEGSYNC_LIB")
    if explicit:
        # A path the user named is never silently replaced by another library.
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as error:
            raise ImportError(
                f"negsync: cannot load the library named by NEGSYNC_LIB={explicit!r}: {error}"
            ) from error

    tried = ["NEGSYNC_LIB environment variable: not set"]
    for description, location in library_candidates():
        if location is None:
            tried.append(f"{description}: nothing found")
            continue
        if isinstance(location, Path) and not location.is_file():
            tried.append(f"{description}: {location} (no such file)")
            continue
        try:
            return ctypes.CDLL(str(location)), str(location)
        except OSError as error:
            tried.append(f"{description}: {location} ({error})")
    raise ImportError(
        "negsync: libnegsync was not found. Build it with `make lib` in the "
        "repository, or set NEGSYNC_LIB to the library's path. Places tried:\n  "
        + "\n  ".join(tried)
    )


def raise_on_failure(result: int, function: Any, arguments: Tuple[Any, ...]) -> int:
    """errcheck for functions that return a negsync_result."""
    if result != NEGSYNC_OK:
        raise error(result, function.__name__)
    return result


def raise_on_session_failure(
    result: int, function: Any, arguments: Tuple[Any, ...]
) -> int:
    """errcheck for mutating session calls: the session says why in its last_error."""
    if result != NEGSYNC_OK:
        session = arguments[0]
        detail = ""
        if session:  # a NULL session has no last_error of its own
            detail = lib.negsync_session_last_error(session).decode("utf-8", "replace")
        raise error(result, function.__name__, detail)
    return result


def raise_on_manager_failure(
    result: int, function: Any, arguments: Tuple[Any, ...]
) -> int:
    """errcheck for mutating manager calls: the manager says why in its last_error."""
    if result != NEGSYNC_OK:
        manager = arguments[0]
        detail = ""
        if manager:  # a NULL manager has no last_error of its own
            detail = lib.negsync_manager_last_error(manager).decode("utf-8", "replace")
        raise error(result, function.__name__, detail)
    return result


def declare(library: ctypes.CDLL, location: str) -> None:
    """Sets restype, argtypes and errcheck for every function in SIGNATURES."""
    for name, (restype, argtypes, checking) in SIGNATURES.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            raise ImportError(
                f"negsync: the library at {location} has no function {name}; "
                "it was built from another version of negsync"
            ) from None
        function.restype = restype
        function.argtypes = argtypes
        if checking == CHECKED:
            function.errcheck = raise_on_failure
        elif checking == SESSION_CHECKED:
            function.errcheck = raise_on_session_failure
        elif checking == MANAGER_CHECKED:
            function.errcheck = raise_on_manager_failure


def result_str(code: int) -> str:
    """The library's static description of a result code."""
    text: bytes = lib.negsync_result_str(code)
    return text.decode("utf-8", "replace")


def error(code: int, where: str, detail: str = "") -> NegsyncError:
    """A NegsyncError whose message says where it happened, what the code means, and why."""
    message = f"{where}: {result_str(code)}"
    if detail:
        message += f" ({detail})"
    return NegsyncError.for_code(code, message, detail)


def invalid_argument(where: str, detail: str) -> NegsyncError:
    """The NegsyncError for an argument Python refuses before the library sees it."""
    return error(NEGSYNC_INVALID_ARGUMENT, where, detail)


def check_version(version_text: str, location: str) -> None:
    """Refuses a library whose ABI may differ from the one SIGNATURES describes."""
    try:
        major, minor = (int(part) for part in version_text.split(".")[:2])
    except ValueError:
        raise ImportError(
            f"negsync: the library at {location} reports an unreadable version {version_text!r}"
        ) from None
    expected_major, expected_minor = HEADER_VERSION[:2]
    compatible = major == expected_major and (major != 0 or minor == expected_minor)
    if not compatible:
        expected = ".".join(map(str, HEADER_VERSION))
        raise ImportError(
            f"negsync: the library at {location} is version {version_text}, but this Python "
            f"package was written for the {expected} C ABI; update negsync/_ffi.py "
            "(SIGNATURES and HEADER_VERSION) or load a matching library"
        )


lib, library_path = load_library()
declare(lib, library_path)
library_version = lib.negsync_version().decode("ascii", "replace")
check_version(library_version, library_path)


def check_uint64(value: object, where: str, what: str) -> int:
    """Refuses what c_uint64 would silently wrap (negative numbers, 2**64 and above)."""
    if not isinstance(value, int):
        raise TypeError(f"{where}: {what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= UINT64_MAX:
        raise invalid_argument(where, f"{what} {value} is outside 0..2**64-1")
    return value


def readable_bytes(data: object, where: str, what: str) -> Tuple[BytesArgument, int, object]:
    """Lends a bytes-like object to C without copying it when that can be done safely.

    Returns (argument for a BytesIn parameter, length in bytes, object to keep alive during
    the call). ``bytes`` pass as they are; a writable buffer (bytearray, writable memoryview,
    array) gets a ctypes array laid over it. A read-only buffer that is not a whole ``bytes``
    object is copied once: ctypes offers no way to take its address.
    """
    if isinstance(data, bytes):
        return (data if data else None), len(data), data
    if isinstance(data, str):
        raise TypeError(f"{where}: {what} must be bytes-like, not str (encode it first)")
    try:
        # Anything with the buffer protocol; the TypeError says what is not.
        view = memoryview(cast(Any, data))
    except TypeError:
        raise TypeError(
            f"{where}: {what} must be bytes-like (bytes, bytearray, memoryview), "
            f"not {type(data).__name__}"
        ) from None
    if view.nbytes == 0:
        return None, 0, None
    if not view.c_contiguous:
        copy = view.tobytes()
        return copy, len(copy), copy
    if view.readonly:
        if isinstance(view.obj, bytes) and view.nbytes == len(view.obj):
            return view.obj, view.nbytes, view.obj
        copy = view.tobytes()
        return copy, len(copy), copy
    overlay = (ctypes.c_char * view.nbytes).from_buffer(view.cast("B"))
    return overlay, view.nbytes, overlay


def exact_id(data: object, where: str, what: str = "id") -> Tuple[BytesArgument, object]:
    """A 32-byte ID as a BytesIn argument, or NegsyncError(NEGSYNC_INVALID_ARGUMENT)."""
    argument, length, keep_alive = readable_bytes(data, where, what)
    if length != ID_SIZE:
        raise invalid_argument(where, f"{what} must be exactly {ID_SIZE} bytes, got {length}")
    return argument, keep_alive


_NATIVE_BYTE_ORDER = "<" if sys.byteorder == "little" else ">"
_UINT64_ALIGNMENT = ctypes.alignment(ctypes.c_uint64)


def _split_format(view: memoryview) -> Tuple[str, str]:
    """A buffer's struct format as (byte order, type code)."""
    format_text = view.format
    if format_text and format_text[0] in "@=<>!":
        return format_text[0], format_text[1:]
    return "@", format_text


def _is_native_uint64_format(view: memoryview) -> bool:
    byte_order, code = _split_format(view)
    native = byte_order in ("@", "=", _NATIVE_BYTE_ORDER)
    return native and code in ("Q", "L") and view.itemsize == 8


def uint64_array(
    timestamps: object, where: str
) -> Tuple[Optional["ctypes.Array[ctypes.c_uint64]"], int, object]:
    """Timestamps as a ctypes uint64 array for one C call: (array or None, count, keep-alive).

    A writable, aligned buffer of native unsigned 64-bit integers (``array('Q')``, a numpy
    uint64 array) is used in place. Any other sequence of ints (a list, a range, an
    ``array('q')``) is converted once with ``array('Q', ...)``. Byte buffers are refused:
    reading ``bytes`` as one timestamp per byte is never what was meant.
    """
    view: Optional[memoryview]
    try:
        view = memoryview(cast(Any, timestamps))
    except TypeError:
        view = None

    if view is not None and not _is_native_uint64_format(view):
        _, code = _split_format(view)
        if code in ("B", "b", "c"):
            raise TypeError(
                f"{where}: timestamps must be ints (a list, or array('Q', ...)), not a byte "
                "buffer; for a blob of native uint64 values pass memoryview(blob).cast('Q')"
            )
        if code not in ("h", "H", "i", "I", "l", "L", "q", "Q", "n", "N") or view.ndim != 1:
            raise TypeError(
                f"{where}: timestamps must be a flat sequence of ints, not a buffer of "
                f"format {view.format!r} and {view.ndim} dimensions"
            )
        timestamps, view = view.tolist(), None

    if view is None:
        try:
            view = memoryview(array.array("Q", cast(Iterable[int], timestamps)))
        except OverflowError:
            raise invalid_argument(where, "every timestamp must be in 0..2**64-1") from None

    count = view.nbytes // 8
    if count == 0:
        return None, 0, None
    if view.readonly or not view.c_contiguous:
        copied = array.array("Q")
        copied.frombytes(view.tobytes())
        view = memoryview(copied)
    overlay = (ctypes.c_uint64 * count).from_buffer(view.cast("B"))
    if ctypes.addressof(overlay) % _UINT64_ALIGNMENT:
        # The library reads them as uint64_t, which must be aligned; a fresh array('Q') is.
        copied = array.array("Q")
        copied.frombytes(bytes(overlay))
        overlay = (ctypes.c_uint64 * count).from_buffer(copied)
    return overlay, count, overlay


def borrowed_bytes(pointer: Union[ctypes.c_void_p, int, None], length: int) -> bytes:
    """Copies out a buffer the library lent (valid only until the next call on its handle).

    ``pointer`` is a ``c_void_p``, or the address a ``c_void_p`` field of a Structure reads as
    (an int, or None for NULL).
    """
    if length == 0:
        return b""
    address = pointer.value if isinstance(pointer, ctypes.c_void_p) else pointer
    if address is None:
        raise AssertionError("negsync lent a NULL buffer with a non-zero length")
    return ctypes.string_at(address, length)


def borrowed_ids(pointer: Union[ctypes.c_void_p, int, None], count: int) -> List[bytes]:
    """Copies out a lent array of ``count`` IDs as a list of 32-byte ``bytes``."""
    blob = borrowed_bytes(pointer, count * ID_SIZE)
    return [blob[start : start + ID_SIZE] for start in range(0, len(blob), ID_SIZE)]
