"""Errors raised by the generator; each names its schema source position."""

from typing import Optional

from .source import QAPISourceInfo


class QAPIError(Exception):
    """Any error the generator reports to its user."""


class QAPISourceError(QAPIError):
    """An error at a schema source position: ``file:line[:col]: message``."""

    def __init__(self, info: Optional[QAPISourceInfo], msg: str,
                 col: Optional[int] = None) -> None:
        super().__init__(msg)
        self.info = info
        self.msg = msg
        self.col = col

    def __str__(self) -> str:
        if self.info is None:
            return self.msg
        loc = str(self.info)
        if self.col is not None:
            loc += ':%d' % self.col
        return loc + ': ' + self.msg


class QAPISemError(QAPISourceError):
    """A semantic error (the text parsed, but it does not make sense)."""
