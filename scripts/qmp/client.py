"""A synchronous QMP client (standard library only).

QMP (the QEMU Machine Protocol) is a stream of JSON objects in both directions. The server
opens with a greeting, the client negotiates capabilities with ``qmp_capabilities``, and from
then on every request gets exactly one response (``return`` or ``error``) while asynchronous
events (``{"event": ..., "timestamp": ..., "data": ...}``) may arrive at any moment, before or
after a response. This client keeps two queues: responses are handed to whoever waits for one,
events are kept until the caller looks at them.

Example::

    from qmp import QMPClient, QMPError

    with QMPClient("/tmp/vm/qmp.sock") as vm:          # or "localhost:4444"
        print(vm.greeting["QMP"]["version"])
        print(vm.cmd("query-status"))                   # -> {'status': 'running', ...}
        vm.cmd("stop")
        vm.wait_event("STOP", timeout=5)
        try:
            vm.cmd("migrate-set-parameters", {"downtime-limit": 10**9})
        except QMPError as e:
            print(e.error_class, e.desc)
        print(vm.hmp("info status"))

Every read has a deadline (``timeout`` seconds, default 10): when it passes the client raises
QMPTimeoutError saying what it was waiting for. A closed connection raises QMPConnectionError.
The client is not thread-safe: use one client per thread.
"""

from __future__ import annotations

import collections
import json
import socket
import time
from types import TracebackType
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

from .errors import QMPConnectionError, QMPError, QMPProtocolError, QMPTimeoutError

# One QMP message (greeting, response or event) as decoded from JSON.
Message = Dict[str, Any]
# A unix socket path, or a (host, port) pair for TCP.
Address = Union[str, Tuple[str, int]]

DEFAULT_TIMEOUT = 10.0
_RECV_SIZE = 65536


def parse_address(text: str) -> Address:
    """Turns a QMP address string into an Address.

    Accepted spellings:
      ``unix:PATH``            a unix socket (QEMU's ``-qmp unix:...`` spelling, without options)
      ``tcp:HOST:PORT``        TCP (``-qmp tcp:...`` spelling, without options)
      ``HOST:PORT``            TCP when PORT is all digits and HOST contains no ``/``
                               (``[::1]:4444`` for IPv6; an empty HOST means localhost)
      anything else            a unix socket path

    Raises ValueError for an empty string or a ``tcp:`` address without a numeric port.
    """
    if not text:
        raise ValueError("empty QMP address")
    for prefix in ("unix:", "tcp:"):
        if text.startswith(prefix):
            rest = text[len(prefix) :].split(",", 1)[0]
            if prefix == "unix:":
                if not rest:
                    raise ValueError(f"'{text}': missing socket path")
                return rest
            tcp = _split_host_port(rest)
            if tcp is None:
                raise ValueError(f"'{text}': expected tcp:HOST:PORT with a numeric port")
            return tcp
    tcp = _split_host_port(text)
    if tcp is not None and "/" not in tcp[0]:
        return tcp
    return text


def _split_host_port(text: str) -> Optional[Tuple[str, int]]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not port.isascii():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if number > 65535:
        return None
    return (host or "localhost", number)


def format_address(address: Address) -> str:
    """The inverse of parse_address, for messages."""
    if isinstance(address, str):
        return address
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def event_match(event: object, match: object) -> bool:
    """QEMU's event matching (python/qemu/machine QEMUMachine.event_match).

    ``match`` is a partial pattern of the whole event message: ``None`` matches anything; a
    dict matches a dict that has every key of the pattern with a value matching the pattern's
    value, recursively (extra keys are allowed); any other value must compare equal. Example:
    ``{"data": {"status": "completed"}}`` matches a MIGRATION event whose data's status is
    ``completed``, whatever else the event carries. A None value in a pattern therefore only
    tests that the key exists.
    """
    if match is None:
        return True
    if isinstance(match, dict):
        if not isinstance(event, dict):
            return False
        return all(key in event and event_match(event[key], sub) for key, sub in match.items())
    return bool(match == event)


class _Deadline:
    """A point in time after which reads stop waiting, with the text that says what for."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        self._end = time.monotonic() + timeout

    def remaining(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise QMPTimeoutError(f"timed out after {self.timeout:g} s waiting for {self.what}")
        return left


def _connect(
    address: Address, timeout: float, alive: Optional[Callable[[], bool]]
) -> socket.socket:
    """Connects, retrying while the socket does not exist yet or refuses connections (the
    server process is still starting) until ``timeout`` seconds have passed."""
    name = format_address(address)
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        try:
            if isinstance(address, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(max(left, 0.05))
                    sock.connect(address)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(address, timeout=max(left, 0.05))
            sock.settimeout(None)
            return sock
        except (FileNotFoundError, ConnectionRefusedError) as e:
            last: OSError = e
        except OSError as e:
            raise QMPConnectionError(f"cannot connect to {name}: {e}") from e
        if alive is not None and not alive():
            raise QMPConnectionError(f"cannot connect to {name}: the server process has exited")
        if time.monotonic() >= end:
            within = f" within {timeout:g} s" if timeout > 0 else ""
            reason = last.strerror or str(last)
            raise QMPConnectionError(f"cannot connect to {name}{within}: {reason}") from last
        time.sleep(min(0.02, max(end - time.monotonic(), 0.0)))


class QMPClient:
    """One QMP connection.

    Constructing a client connects (retrying for ``connect_timeout`` seconds while the server
    starts), reads the greeting (kept in ``greeting``) and, unless ``negotiate=False``, runs
    ``qmp_capabilities``. ``alive``, when given, is called between connection attempts; when
    it returns False the client gives up at once (the server process died).

    ``timeout`` (attribute, seconds) bounds every read that has no explicit timeout.

    Raises ValueError for a malformed address string, QMPConnectionError, QMPTimeoutError or
    QMPProtocolError when the connection or the greeting fails, and QMPError when negotiation
    is refused.
    """

    def __init__(
        self,
        address: Address,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_TIMEOUT,
        negotiate: bool = True,
        alive: Optional[Callable[[], bool]] = None,
    ) -> None:
        if isinstance(address, str):
            address = parse_address(address)
        self.address: Optional[Address] = address
        self._start(_connect(address, connect_timeout, alive), timeout, negotiate)

    @classmethod
    def from_socket(
        cls, sock: socket.socket, *, timeout: float = DEFAULT_TIMEOUT, negotiate: bool = True
    ) -> "QMPClient":
        """Runs the client over an already connected socket (which it then owns)."""
        client = cls.__new__(cls)
        client.address = None
        client._start(sock, timeout, negotiate)
        return client

    def _start(self, sock: socket.socket, timeout: float, negotiate: bool) -> None:
        self._sock = sock
        self.timeout = timeout
        self._buf = bytearray()
        self._eof = False
        self._closed = False
        self._events: Deque[Message] = collections.deque()
        self._responses: Deque[Message] = collections.deque()
        try:
            what = "the QMP greeting (a QEMU socket monitor serves one client at a time)"
            deadline = self._deadline(None, what)
            greeting = self._read_message(deadline)
            # QEMU 7.2 can write an event emitted while it starts (RESUME without -S) to a client
            # that connected before its monitor announced itself: the event then comes first.
            # It is kept, like any other event, and the greeting is read after it.
            while greeting is not None and "event" in greeting and "QMP" not in greeting:
                self._events.append(greeting)
                greeting = self._read_message(deadline)
            if greeting is None:
                raise QMPConnectionError("connection closed by the server before the greeting")
            if not isinstance(greeting.get("QMP"), dict):
                raise QMPProtocolError(f"expected the QMP greeting, got {greeting!r}")
            self.greeting: Message = greeting
            if negotiate:
                self.negotiate()
        except BaseException:
            self.close()
            raise

    # -- context manager ------------------------------------------------------------------

    def __enter__(self) -> "QMPClient":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # -- commands -------------------------------------------------------------------------

    def negotiate(self, enable: Sequence[str] = ()) -> None:
        """Runs ``qmp_capabilities`` (with ``enable`` when not empty). Raises QMPError."""
        if enable:
            self.cmd("qmp_capabilities", {"enable": list(enable)})
        else:
            self.cmd("qmp_capabilities")

    def cmd(
        self, name: str, arguments: Optional[Mapping[str, Any]] = None, /, **kwargs: Any
    ) -> Any:
        """Executes command ``name`` and returns its ``return`` value.

        Arguments come from the ``arguments`` mapping (names sent verbatim) and from keyword
        arguments, whose ``_`` become ``-`` (``downtime_limit=300`` sends ``downtime-limit``).
        Raises QMPError when the server answers with an error, and the transport errors.
        """
        args: Dict[str, Any] = dict(arguments or {})
        for key, value in kwargs.items():
            args[key.replace("_", "-")] = value
        request: Message = {"execute": name}
        if args:
            request["arguments"] = args
        response = self.cmd_raw(request, what=f"the response to '{name}'")
        if "error" in response:
            raise QMPError(response, name)
        if "return" not in response:
            raise QMPProtocolError(f"response to '{name}' has neither return nor error: {response}")
        return response["return"]

    def cmd_raw(
        self,
        request: Union[Mapping[str, Any], bytes, str],
        timeout: Optional[float] = None,
        what: str = "a response",
    ) -> Message:
        """Sends one request and returns the next response object as it came (``return`` or
        ``error``, with ``id`` when the server echoed one). A mapping is sent as JSON plus a
        newline; bytes and str are sent exactly as given, so a test can send malformed input.

        Raises QMPProtocolError when responses from earlier raw sends are still unread (read
        them with read_response() first), and the transport errors.
        """
        self._read_available()
        if self._responses:
            raise QMPProtocolError(
                f"{len(self._responses)} earlier response(s) not read yet; "
                "call read_response() before sending another request"
            )
        self.send_raw(request)
        return self.read_response(timeout, what)

    def hmp(self, command_line: str, cpu_index: Optional[int] = None) -> str:
        """Runs an HMP command through ``human-monitor-command`` and returns its output
        (lines end with ``\\r\\n``, as QEMU sends them). Raises QMPError."""
        args: Dict[str, Any] = {"command-line": command_line}
        if cpu_index is not None:
            args["cpu-index"] = cpu_index
        result = self.cmd("human-monitor-command", args)
        if not isinstance(result, str):
            raise QMPProtocolError(f"human-monitor-command returned {result!r}, not a string")
        return result

    def send_fd(self, fd: int, fdname: str) -> Any:
        """Runs ``getfd`` with ``fd`` attached as SCM_RIGHTS data (Unix sockets only), so the
        server keeps it under ``fdname`` (e.g. for ``migrate uri=fd:NAME``). Returns the
        ``return`` value; raises QMPError."""
        if self._sock.family != socket.AF_UNIX:
            raise QMPProtocolError("descriptors can only be passed over a Unix socket")
        payload = json.dumps({"execute": "getfd", "arguments": {"fdname": fdname}}).encode()
        self._check_open()
        self._read_available()
        try:
            self._sock.settimeout(self.timeout)
            socket.send_fds(self._sock, [payload + b"\n"], [fd])
        except OSError as e:
            raise QMPConnectionError(f"cannot send to the QMP server: {e}") from e
        response = self.read_response(None, "the getfd response")
        if "error" in response:
            raise QMPError(response, "getfd")
        return response.get("return")

    # -- raw traffic ----------------------------------------------------------------------

    def send_raw(self, data: Union[Mapping[str, Any], bytes, str]) -> None:
        """Writes ``data`` to the socket in one write: a mapping as JSON plus newline, str as
        UTF-8, bytes as they are. Raises QMPConnectionError or QMPTimeoutError."""
        if isinstance(data, bytes):
            payload = data
        elif isinstance(data, str):
            payload = data.encode("utf-8")
        else:
            payload = json.dumps(data).encode("utf-8") + b"\n"
        self._check_open()
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(payload)
        except socket.timeout as e:
            message = f"timed out after {self.timeout:g} s sending to the server"
            raise QMPTimeoutError(message) from e
        except OSError as e:
            raise QMPConnectionError(f"cannot send to the QMP server: {e}") from e

    def read_response(self, timeout: Optional[float] = None, what: str = "a response") -> Message:
        """Returns the next response (``return``/``error`` object), queueing events that
        arrive first. Raises QMPTimeoutError or QMPConnectionError (closed meanwhile)."""
        deadline = self._deadline(timeout, what)
        while not self._responses:
            self._read_one(deadline)
        return self._responses.popleft()

    def pending_responses(self) -> int:
        """How many responses have arrived that nobody read yet (without waiting)."""
        self._read_available()
        return len(self._responses)

    # -- events ---------------------------------------------------------------------------

    def events(self, timeout: float = 0.0) -> List[Message]:
        """Returns and removes every queued event, oldest first, after picking up what the
        server has sent already. With ``timeout`` > 0 and nothing queued, waits up to that
        long for a first event; returns an empty list when none came (no exception)."""
        self._read_available()
        if not self._events and timeout > 0:
            deadline = self._deadline(timeout, "an event")
            try:
                while not self._events:
                    self._read_one(deadline)
            except QMPTimeoutError:
                pass
        out = list(self._events)
        self._events.clear()
        return out

    def wait_event(
        self, name: str, timeout: Optional[float] = None, match: Optional[Mapping[str, Any]] = None
    ) -> Message:
        """Waits for the first event called ``name`` that matches ``match`` (see event_match:
        a partial pattern of the whole event, e.g. ``{"data": {"status": "completed"}}``),
        removes it from the queue and returns it. Other events stay queued in order.
        Raises QMPTimeoutError when none arrives within ``timeout`` (default: self.timeout)."""
        i = self._find_event(name, timeout, match)
        event = self._events[i]
        del self._events[i]
        return event

    def events_until(
        self, name: str, timeout: Optional[float] = None, match: Optional[Mapping[str, Any]] = None
    ) -> List[Message]:
        """Waits like ``wait_event`` and returns, oldest first, every queued event up to and
        including that one, removing them; later events stay queued. The way to collect a
        sequence that ends in a known event: a monitor may answer a query that already
        reports a new state before it sends the event of that change (QEMU does too)."""
        i = self._find_event(name, timeout, match)
        return [self._events.popleft() for _ in range(i + 1)]

    def _find_event(
        self, name: str, timeout: Optional[float], match: Optional[Mapping[str, Any]]
    ) -> int:
        """The queue index of the first event ``name`` matching ``match``, reading until one
        arrives; QMPTimeoutError after ``timeout``."""
        what = f"event {name}" + (f" matching {match}" if match else "")
        deadline = self._deadline(timeout, what)
        self._read_available()
        checked = 0
        while True:
            while checked < len(self._events):
                event = self._events[checked]
                if event.get("event") == name and event_match(event, match):
                    return checked
                checked += 1
            self._read_one(deadline)

    def clear_events(self) -> None:
        """Drops every queued event, including those the server has sent already."""
        self._read_available()
        self._events.clear()

    # -- connection -----------------------------------------------------------------------

    def wait_disconnect(self, timeout: Optional[float] = None) -> None:
        """Reads (queueing events and responses) until the server closes the connection,
        e.g. after ``quit``. Raises QMPTimeoutError when it stays open."""
        deadline = self._deadline(timeout, "the server to close the connection")
        while not self._eof:
            self._fill(deadline)
        self._parse_buffer()

    @property
    def closed_by_server(self) -> bool:
        """True once the server has closed its end (seen by a read)."""
        return self._eof

    def close(self) -> None:
        """Closes the connection; idempotent. Queued events stay readable."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    # -- internals ------------------------------------------------------------------------

    def _deadline(self, timeout: Optional[float], what: str) -> _Deadline:
        return _Deadline(self.timeout if timeout is None else timeout, what)

    def _check_open(self) -> None:
        if self._closed:
            raise QMPConnectionError("the QMP client is closed")

    def _read_one(self, deadline: _Deadline) -> None:
        """Reads and dispatches at least one message. Raises at EOF or timeout."""
        message = self._read_message(deadline)
        if message is None:
            raise QMPConnectionError(
                f"connection closed by the server while waiting for {deadline.what}"
            )
        self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        if "event" in message:
            self._events.append(message)
        else:
            self._responses.append(message)

    def _read_message(self, deadline: _Deadline) -> Optional[Message]:
        """Returns the next message from the stream, or None at end of stream."""
        while True:
            message = self._pop_line()
            if message is not None:
                return message
            if self._eof:
                return None
            self._fill(deadline)

    def _pop_line(self) -> Optional[Message]:
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if self._eof and self._buf.strip():
                    line = bytes(self._buf)
                    self._buf.clear()
                    return self._decode(line)
                return None
            line = bytes(self._buf[:nl]).strip()
            del self._buf[: nl + 1]
            if line:
                return self._decode(line)

    @staticmethod
    def _decode(line: bytes) -> Message:
        try:
            value = json.loads(line)
        except ValueError as e:
            raise QMPProtocolError(f"the server sent invalid JSON ({e}): {line[:200]!r}") from e
        if not isinstance(value, dict):
            raise QMPProtocolError(f"the server sent a non-object: {line[:200]!r}")
        return value

    def _fill(self, deadline: _Deadline) -> None:
        """Blocks until some bytes (or EOF) arrive, or the deadline passes."""
        self._check_open()
        try:
            self._sock.settimeout(deadline.remaining())
            data = self._sock.recv(_RECV_SIZE)
        except socket.timeout:
            deadline.remaining()  # raises the timeout error with its description
            return
        except ConnectionResetError:
            data = b""  # the server went away without reading everything: same as a close
        except OSError as e:
            raise QMPConnectionError(f"cannot read from the QMP server: {e}") from e
        if data:
            self._buf += data
        else:
            self._eof = True

    def _read_available(self) -> None:
        """Takes in whatever the server has sent so far, without blocking."""
        if self._closed:
            return
        while not self._eof:
            try:
                self._sock.setblocking(False)
                data = self._sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionResetError:
                data = b""
            except OSError as e:
                raise QMPConnectionError(f"cannot read from the QMP server: {e}") from e
            if data:
                self._buf += data
            else:
                self._eof = True
        self._parse_buffer()

    def _parse_buffer(self) -> None:
        while True:
            message = self._pop_line()
            if message is None:
                return
            self._dispatch(message)
