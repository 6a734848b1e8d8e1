"""The part every class that owns one C handle shares: freeing it once, safely."""

import threading
from typing import Any, Optional, TypeVar

from . import _ffi

Self = TypeVar("Self", bound="OwnedHandle")


class OwnedHandle:
    """Owns one C handle: ``close()`` frees it once, ``with`` closes on exit, ``__del__`` is a
    safety net, and a lock keeps ``close()`` on one thread from freeing the handle while another
    thread is inside a call on it (the library cannot survive that).

    A subclass names its C free function in ``_free_function`` and calls ``_adopt(handle)``
    once the handle exists.
    """

    _free_function: str = ""

    def __init__(self) -> None:
        # A ctypes pointer to the C handle (SetPointer, SessionPointer, ManagerPointer).
        self._handle: Optional[Any] = None
        self._lock = threading.Lock()

    def _adopt(self, handle: Any) -> None:
        self._handle = handle

    def _live_handle(self) -> Any:
        if self._handle is None:
            raise ValueError(f"negsync: operation on a closed {type(self).__name__}")
        return self._handle

    @property
    def closed(self) -> bool:
        """True once ``close()`` has been called."""
        return self._handle is None

    def _free(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                getattr(_ffi.lib, self._free_function)(handle)

    def close(self) -> None:
        """Frees the object and every buffer it lent. Idempotent."""
        self._free()

    def __enter__(self: Self) -> Self:
        self._live_handle()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._free()

    def __del__(self) -> None:
        # A safety net only: at interpreter exit the module may already be torn down.
        try:
            self._free()
        except Exception:
            pass
