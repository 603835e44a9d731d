"""migemu's QMP client library (standard library only).

Put ``scripts/`` on ``sys.path`` and ``import qmp``:

    import sys; sys.path.insert(0, "scripts")
    from qmp import QMPClient, QMPError

    vm = QMPClient("/tmp/vm/qmp.sock")       # connects, reads the greeting, negotiates
    vm.cmd("stop")
    vm.wait_event("STOP", timeout=5)
    vm.close()

Modules: ``qmp.client`` (QMPClient, parse_address, event_match), ``qmp.errors`` (the
exceptions), ``qmp.shell`` (the qmp-shell REPL and its command-line syntax). See
docs/python.md.
"""

from .client import (
    DEFAULT_TIMEOUT,
    Address,
    Message,
    QMPClient,
    event_match,
    format_address,
    parse_address,
)
from .errors import (
    QMPClientError,
    QMPConnectionError,
    QMPError,
    QMPProtocolError,
    QMPTimeoutError,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Address",
    "Message",
    "QMPClient",
    "QMPClientError",
    "QMPConnectionError",
    "QMPError",
    "QMPProtocolError",
    "QMPTimeoutError",
    "event_match",
    "format_address",
    "parse_address",
]
