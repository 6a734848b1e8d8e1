"""Result codes of the C ABI and the exceptions that carry them: ``NegsyncError``, and one
subclass of it per failure code (``except negsync.MalformedMessage:``).

The numbers are those of ``include/negsync.h``; the library promises they are stable across
versions, so they are plain constants here rather than values read at run time.
"""

from typing import Dict, Type

NEGSYNC_OK = 0
NEGSYNC_NULL_PARAMETER = 1
NEGSYNC_INVALID_ARGUMENT = 2
NEGSYNC_MALFORMED_MESSAGE = 3
NEGSYNC_UNSUPPORTED_VERSION = 4
NEGSYNC_WRONG_STATE = 5
NEGSYNC_LIMIT_EXCEEDED = 6
NEGSYNC_PANIC = 7
NEGSYNC_INTERNAL = 8
NEGSYNC_NO_MEMORY = 9

#: Every result code by number, with its name as written in the header.
RESULT_NAMES: Dict[int, str] = {
    NEGSYNC_OK: "NEGSYNC_OK",
    NEGSYNC_NULL_PARAMETER: "NEGSYNC_NULL_PARAMETER",
    NEGSYNC_INVALID_ARGUMENT: "NEGSYNC_INVALID_ARGUMENT",
    NEGSYNC_MALFORMED_MESSAGE: "NEGSYNC_MALFORMED_MESSAGE",
    NEGSYNC_UNSUPPORTED_VERSION: "NEGSYNC_UNSUPPORTED_VERSION",
    NEGSYNC_WRONG_STATE: "NEGSYNC_WRONG_STATE",
    NEGSYNC_LIMIT_EXCEEDED: "NEGSYNC_LIMIT_EXCEEDED",
    NEGSYNC_PANIC: "NEGSYNC_PANIC",
    NEGSYNC_INTERNAL: "NEGSYNC_INTERNAL",
    NEGSYNC_NO_MEMORY: "NEGSYNC_NO_MEMORY",
}


class NegsyncError(Exception):
    """A negsync call failed.

    ``code`` is the ``negsync_result`` (one of the ``NEGSYNC_*`` constants), ``name`` its name,
    and ``detail`` the library's explanation when it gave one (for sessions, the text of
    ``negsync_session_last_error``). ``str(error)`` reads as one line: where it failed, the
    library's description of the code (``negsync_result_str``), then the detail.

    Arguments the binding can check before calling the library (an ID that is not 32 bytes,
    ID and timestamp arrays of different lengths, a timestamp outside 0..2**64-1) raise this
    same exception with ``NEGSYNC_INVALID_ARGUMENT``, so one ``except NegsyncError`` catches
    every refusal whether Python or the library noticed it first.
    """

    def __init__(self, code: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail

    @property
    def name(self) -> str:
        """The code's name, e.g. ``"NEGSYNC_MALFORMED_MESSAGE"``."""
        return RESULT_NAMES.get(self.code, f"unknown result code {self.code}")

    @staticmethod
    def for_code(code: int, message: str, detail: str = "") -> "NegsyncError":
        """The exception for ``code``: an instance of its subclass (``MalformedMessage`` for
        ``NEGSYNC_MALFORMED_MESSAGE``, ...), or of ``NegsyncError`` for a code this version does
        not know."""
        return ERROR_CLASSES.get(code, NegsyncError)(code, message, detail)


class NullParameter(NegsyncError):
    """``NEGSYNC_NULL_PARAMETER``: a required pointer was NULL (a bug in the binding)."""


class InvalidArgument(NegsyncError):
    """``NEGSYNC_INVALID_ARGUMENT``: an argument has a value the library does not accept."""


class MalformedMessage(NegsyncError):
    """``NEGSYNC_MALFORMED_MESSAGE``: the peer's message is not valid Negentropy; the session
    has failed."""


class UnsupportedVersion(NegsyncError):
    """``NEGSYNC_UNSUPPORTED_VERSION``: the peer speaks another protocol version."""


class WrongState(NegsyncError):
    """``NEGSYNC_WRONG_STATE``: the call does not fit the session's state."""


class LimitExceeded(NegsyncError):
    """``NEGSYNC_LIMIT_EXCEEDED``: the peer pushed the session past one of its limits."""


class Panic(NegsyncError):
    """``NEGSYNC_PANIC``: a panic inside negsync was caught; the handle is poisoned."""


class Internal(NegsyncError):
    """``NEGSYNC_INTERNAL``: an internal error (a bug in negsync, please report it)."""


class NoMemory(NegsyncError):
    """``NEGSYNC_NO_MEMORY``: the allocator refused memory for a buffer; the session failed."""


#: The exception class of each failure code.
ERROR_CLASSES: Dict[int, Type[NegsyncError]] = {
    NEGSYNC_NULL_PARAMETER: NullParameter,
    NEGSYNC_INVALID_ARGUMENT: InvalidArgument,
    NEGSYNC_MALFORMED_MESSAGE: MalformedMessage,
    NEGSYNC_UNSUPPORTED_VERSION: UnsupportedVersion,
    NEGSYNC_WRONG_STATE: WrongState,
    NEGSYNC_LIMIT_EXCEEDED: LimitExceeded,
    NEGSYNC_PANIC: Panic,
    NEGSYNC_INTERNAL: Internal,
    NEGSYNC_NO_MEMORY: NoMemory,
}
