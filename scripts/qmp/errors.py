"""Exceptions raised by the QMP client library.

Every exception derives from QMPClientError, so one ``except`` clause catches them all:

* QMPError: the server answered a command with an ``error`` response. Carries the QMP error
  class, the description and the raw response.
* QMPTimeoutError: a read did not complete before its deadline (also a TimeoutError).
* QMPConnectionError: connecting failed, or the server closed the connection while the client
  was waiting for something (also a ConnectionError).
* QMPProtocolError: the server sent something that is not QMP (not JSON, not an object, a
  greeting without the ``QMP`` member...).
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class QMPClientError(Exception):
    """Base class of every error raised by the qmp package."""


class QMPError(QMPClientError):
    """The server answered a request with ``{"error": {"class": ..., "desc": ...}}``.

    Attributes:
        error_class: the QMP error class, e.g. ``"GenericError"`` or ``"CommandNotFound"``.
        desc: the human-readable description, byte for byte as the server sent it.
        response: the whole response object (it may carry an ``id``).
        command: the command name that failed, when known.
    """

    def __init__(self, response: Dict[str, Any], command: Optional[str] = None) -> None:
        error = response.get("error")
        if not isinstance(error, dict):
            error = {}
        self.error_class: str = str(error.get("class", ""))
        self.desc: str = str(error.get("desc", ""))
        self.response: Dict[str, Any] = response
        self.command: Optional[str] = command
        prefix = f"{command}: " if command else ""
        super().__init__(f"{prefix}{self.error_class}: {self.desc}")


class QMPTimeoutError(QMPClientError, TimeoutError):
    """A read from the QMP server did not complete in time."""


class QMPConnectionError(QMPClientError, ConnectionError):
    """Connecting failed, or the connection was closed while the client waited for data."""


class QMPProtocolError(QMPClientError):
    """The server sent data that does not follow the QMP protocol."""
