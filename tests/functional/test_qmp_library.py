"""The qmp client library against a scripted server (a socket pair: the test writes what the
server would send and reads what the client sent). No emulator needed."""

from __future__ import annotations

import json
import os
import queue
import socket
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from qmp import (
    QMPClient,
    QMPConnectionError,
    QMPError,
    QMPProtocolError,
    QMPTimeoutError,
    event_match,
    format_address,
    parse_address,
)

GREETING = {
    "QMP": {
        "version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "test"},
        "capabilities": ["oob"],
    }
}
STOP: Dict[str, Any] = {"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\r\n"


class Server:
    """The server end of a socket pair, run by a thread: ``reply(...)`` queues what to send
    back when the next request arrives (a batch may hold events too), ``send(...)`` sends
    at once, ``requests`` lists every request received."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.requests: List[Any] = []
        self.received = b""
        self._replies: "queue.Queue[Tuple[Any, ...]]" = queue.Queue()
        self._thread = threading.Thread(target=self._serve)
        self._thread.start()

    def send(self, *messages: Any) -> None:
        self.sock.sendall(b"".join(m if isinstance(m, bytes) else line(m) for m in messages))

    def reply(self, *messages: Any) -> None:
        self._replies.put(messages)

    def wait_requests(self, count: int) -> List[Any]:
        end = time.monotonic() + 5
        while len(self.requests) < count and time.monotonic() < end:
            time.sleep(0.005)
        return self.requests

    def _serve(self) -> None:
        decoder = json.JSONDecoder()
        pending = ""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self.received += chunk
            pending += chunk.decode()
            while True:
                text = pending.lstrip()
                try:
                    value, end = decoder.raw_decode(text)
                except ValueError:
                    break
                pending = text[end:]
                self.requests.append(value)
                try:
                    batch = self._replies.get_nowait()
                except queue.Empty:
                    continue
                try:
                    self.send(*batch)
                except OSError:
                    return

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._thread.join()
        self.sock.close()


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, Server]]:
    a, b = socket.socketpair()
    server = Server(b)
    yield a, server
    a.close()
    server.close()


def connect(pair: Tuple[socket.socket, Server], negotiate: bool = True, **kw: Any) -> QMPClient:
    sock, server = pair
    server.send(GREETING)
    if negotiate:
        server.reply({"return": {}})
    return QMPClient.from_socket(sock, negotiate=negotiate, **kw)


def test_greeting_and_negotiation(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    assert client.greeting == GREETING
    assert pair[1].wait_requests(1) == [{"execute": "qmp_capabilities"}]


def test_negotiation_with_capabilities(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair, negotiate=False)
    pair[1].reply({"return": {}})
    client.negotiate(["oob"])
    assert pair[1].requests == [
        {"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}
    ]


def test_greeting_must_be_a_greeting(pair: Tuple[socket.socket, Server]) -> None:
    sock, server = pair
    server.send({"return": {}})
    with pytest.raises(QMPProtocolError, match="expected the QMP greeting"):
        QMPClient.from_socket(sock)


def test_event_before_the_greeting_is_kept(pair: Tuple[socket.socket, Server]) -> None:
    # QEMU 7.2 started without -S can write RESUME to a client that connected while it started,
    # before the greeting.
    sock, server = pair
    resume = {"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}
    server.send(resume, GREETING)
    server.reply({"return": {}})
    client = QMPClient.from_socket(sock)
    assert client.greeting == GREETING
    assert client.events() == [resume]


def test_refused_negotiation_raises(pair: Tuple[socket.socket, Server]) -> None:
    sock, server = pair
    server.send(GREETING)
    server.reply({"error": {"class": "GenericError", "desc": "nope"}})
    with pytest.raises(QMPError) as e:
        QMPClient.from_socket(sock)
    assert (e.value.error_class, e.value.desc) == ("GenericError", "nope")


def test_cmd_arguments(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    server = pair[1]
    server.reply({"return": {"status": "running"}})
    server.reply({"return": {}})
    server.reply({"return": 5})
    assert client.cmd("query-status") == {"status": "running"}
    assert client.cmd("migrate-set-parameters", downtime_limit=300, max_bandwidth=1) == {}
    assert client.cmd("x", {"a_b": 1, "name": "n"}, c_d=2) == 5
    assert server.requests[1:] == [
        {"execute": "query-status"},
        {
            "execute": "migrate-set-parameters",
            "arguments": {"downtime-limit": 300, "max-bandwidth": 1},
        },
        {"execute": "x", "arguments": {"a_b": 1, "name": "n", "c-d": 2}},
    ]


def test_cmd_error(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    desc = "The command x has not been found"
    response = {"id": 1, "error": {"class": "CommandNotFound", "desc": desc}}
    pair[1].reply(response)
    with pytest.raises(QMPError) as e:
        client.cmd("x")
    assert e.value.error_class == "CommandNotFound"
    assert e.value.desc == "The command x has not been found"
    assert e.value.response == response
    assert e.value.command == "x"
    assert str(e.value) == "x: CommandNotFound: The command x has not been found"


def test_response_without_return_or_error(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].reply({"id": 1})
    with pytest.raises(QMPProtocolError, match="neither return nor error"):
        client.cmd("x")


def test_events_interleave_with_responses(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    resume = {**STOP, "event": "RESUME"}
    pair[1].reply(STOP, {"return": {}}, resume)
    assert client.cmd("stop") == {}
    assert client.events() == [STOP, resume]
    assert client.events() == []


def test_wait_event_keeps_other_events_in_order(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    events = [
        {"event": "MIGRATION", "data": {"status": "setup"}},
        {"event": "STOP"},
        {"event": "MIGRATION", "data": {"status": "completed"}},
        {"event": "RESUME"},
    ]
    pair[1].send(*events)
    got = client.wait_event("MIGRATION", timeout=5, match={"data": {"status": "completed"}})
    assert got == events[2]
    assert client.wait_event("RESUME", timeout=5) == events[3]
    assert client.events() == [events[0], events[1]]


def test_events_until_returns_the_sequence_through_the_event(
    pair: Tuple[socket.socket, Server]
) -> None:
    client = connect(pair)
    events = [
        {"event": "MIGRATION", "data": {"status": "active"}},
        {"event": "RESUME"},
    ]
    completed = {"event": "MIGRATION", "data": {"status": "completed"}}
    after = {"event": "STOP"}
    pair[1].send(*events)
    # The event has not come yet: the call reads on until it does.
    timer = threading.Timer(0.2, lambda: pair[1].send(completed, after))
    timer.start()
    try:
        got = client.events_until("MIGRATION", timeout=5, match={"data": {"status": "completed"}})
    finally:
        timer.join()
    assert got == [*events, completed]
    assert client.events(timeout=5) == [after]
    with pytest.raises(QMPTimeoutError, match="waiting for event RESUME"):
        client.events_until("RESUME", timeout=0.1)


def test_wait_event_reads_until_the_event_arrives(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    timer = threading.Timer(0.1, pair[1].send, args=[STOP])
    timer.start()
    try:
        assert client.wait_event("STOP", timeout=5) == STOP
    finally:
        timer.join()


def test_wait_event_timeout(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].send(STOP)
    start = time.monotonic()
    with pytest.raises(QMPTimeoutError, match="timed out after 0.2 s waiting for event RESUME"):
        client.wait_event("RESUME", timeout=0.2)
    assert 0.2 <= time.monotonic() - start < 2
    assert client.events() == [STOP]


def test_events_with_timeout_returns_empty_list(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    assert client.events(timeout=0.05) == []
    pair[1].send(STOP)
    assert client.events(timeout=5) == [STOP]


def test_clear_events_drops_what_already_arrived(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].send(STOP, STOP)
    client.clear_events()
    assert client.events() == []


def test_read_timeout_names_the_command(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair, timeout=0.1)
    with pytest.raises(QMPTimeoutError, match="waiting for the response to 'query-status'"):
        client.cmd("query-status")


def test_greeting_timeout(pair: Tuple[socket.socket, Server]) -> None:
    with pytest.raises(QMPTimeoutError, match="waiting for the QMP greeting"):
        QMPClient.from_socket(pair[0], timeout=0.1)


def test_messages_split_across_reads(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    data = line(STOP) + line({"return": {"a": 1}})
    pair[1].reply(data[:7])
    timer = threading.Timer(0.05, pair[1].send, args=[data[7:]])
    timer.start()
    try:
        assert client.cmd("x") == {"a": 1}
    finally:
        timer.join()
    assert client.events() == [STOP]


def test_plain_newlines_and_blank_lines(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].reply(b'\n\r\n{"return": 1}\n')
    assert client.cmd("x") == 1


def test_closed_connection(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].sock.shutdown(socket.SHUT_WR)
    with pytest.raises(QMPConnectionError, match="closed by the server while waiting for the resp"):
        client.cmd("x")
    assert client.closed_by_server


def test_invalid_json_from_server(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].reply(b"{nope\r\n")
    with pytest.raises(QMPProtocolError, match="invalid JSON"):
        client.cmd("x")


def test_non_object_from_server(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].reply(b"[1]\r\n")
    with pytest.raises(QMPProtocolError, match="non-object"):
        client.cmd("x")


def test_raw_requests_and_pending_responses(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    server = pair[1]
    # Both answers go back on "a"; "b" gets nothing, so the reply queued for "c" below cannot
    # be sent early, on a "b" the server thread has not parsed yet.
    server.reply({"return": 1}, {"return": 2})
    server.reply()
    client.send_raw(b'{"execute":"a"}{"execute":"b"}')
    assert client.read_response(timeout=5) == {"return": 1}
    with pytest.raises(QMPProtocolError, match="not read yet"):
        client.cmd_raw({"execute": "c"})
    assert client.pending_responses() == 1
    assert client.read_response() == {"return": 2}
    server.reply({"id": [1], "return": {}})
    assert client.cmd_raw('{"execute":"c","id":[1]}') == {"id": [1], "return": {}}
    assert server.received.endswith(b'{"execute":"a"}{"execute":"b"}{"execute":"c","id":[1]}')


def test_hmp(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    server = pair[1]
    server.reply({"return": "VM status: running\r\n"})
    server.reply({"return": ""})
    server.reply({"return": {}})
    assert client.hmp("info status") == "VM status: running\r\n"
    assert client.hmp("info cpus", cpu_index=1) == ""
    with pytest.raises(QMPProtocolError, match="not a string"):
        client.hmp("x")
    assert server.requests[1:3] == [
        {"execute": "human-monitor-command", "arguments": {"command-line": "info status"}},
        {
            "execute": "human-monitor-command",
            "arguments": {"command-line": "info cpus", "cpu-index": 1},
        },
    ]


def test_wait_disconnect_and_close(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    pair[1].reply({"return": {}}, {"event": "SHUTDOWN", "data": {"guest": False}})
    assert client.cmd("quit") == {}
    pair[1].close()
    client.wait_disconnect(timeout=5)
    assert [e["event"] for e in client.events()] == ["SHUTDOWN"]
    client.close()
    client.close()
    with pytest.raises(QMPConnectionError, match="closed"):
        client.cmd("x")


def test_wait_disconnect_timeout(pair: Tuple[socket.socket, Server]) -> None:
    client = connect(pair)
    with pytest.raises(QMPTimeoutError, match="the server to close the connection"):
        client.wait_disconnect(timeout=0.05)


def answer_negotiation(conn: socket.socket) -> None:
    conn.settimeout(5)
    conn.sendall(line(GREETING))
    request = b""
    while b"\n" not in request:
        request += conn.recv(100)
    conn.sendall(line({"return": {}}))


def test_connect_retries_until_the_socket_appears() -> None:
    with tempfile.TemporaryDirectory(prefix="qmp-test-") as tmp:
        path = os.path.join(tmp, "qmp.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        accepted: List[socket.socket] = []

        def serve() -> None:
            time.sleep(0.2)  # the "process" is still starting
            listener.bind(path)
            listener.listen(1)
            conn, _ = listener.accept()
            accepted.append(conn)
            answer_negotiation(conn)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with QMPClient(path, connect_timeout=5) as client:
                assert client.greeting == GREETING
                assert client.address == path
        finally:
            thread.join()
            listener.close()
            for conn in accepted:
                conn.close()


def test_connect_gives_up() -> None:
    with tempfile.TemporaryDirectory(prefix="qmp-test-") as tmp:
        path = os.path.join(tmp, "missing.sock")
        start = time.monotonic()
        with pytest.raises(QMPConnectionError, match=f"cannot connect to {path} within 0.2 s"):
            QMPClient(path, connect_timeout=0.2)
        assert time.monotonic() - start < 2
        with pytest.raises(QMPConnectionError, match="the server process has exited"):
            QMPClient(path, connect_timeout=30, alive=lambda: False)
        with pytest.raises(QMPConnectionError, match="cannot connect to"):
            QMPClient("x" * 200, connect_timeout=30)  # too long for a unix socket: no retry


def test_tcp_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                answer_negotiation(conn)
                conn.recv(100)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with QMPClient(f"127.0.0.1:{port}") as client:
                assert client.greeting == GREETING
                assert client.address == ("127.0.0.1", port)
        finally:
            thread.join()


@pytest.mark.parametrize(
    "text,address",
    [
        ("/tmp/qmp.sock", "/tmp/qmp.sock"),
        ("qmp.sock", "qmp.sock"),
        ("unix:/tmp/q.sock,server=on,wait=off", "/tmp/q.sock"),
        ("localhost:4444", ("localhost", 4444)),
        ("127.0.0.1:4444", ("127.0.0.1", 4444)),
        ("[::1]:4444", ("::1", 4444)),
        (":4444", ("localhost", 4444)),
        ("tcp:localhost:4444,server=on", ("localhost", 4444)),
        ("./dir:1/sock:5", "./dir:1/sock:5"),
        ("host:port", "host:port"),
        ("host:99999", "host:99999"),
    ],
)
def test_parse_address(text: str, address: Any) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "tcp:localhost", "tcp:host:x", "unix:"])
def test_parse_address_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_format_address() -> None:
    assert format_address("/x") == "/x"
    assert format_address(("h", 1)) == "h:1"
    assert format_address(("::1", 1)) == "[::1]:1"


@pytest.mark.parametrize(
    "event,match,result",
    [
        # The examples of QEMU's QEMUMachine.event_match documentation.
        ({"foo": {"bar": 1}}, None, True),
        ({"foo": {"bar": 1}}, {"foo": None}, True),
        ({"foo": 5}, {"foo": None}, True),
        ({"foo": {"bar": 1}}, {"foo": {"abc": None}}, False),
        ({"foo": {"bar": 1, "rab": 2}}, {"foo": {"rab": 2}}, True),
        ({"data": {"status": "active"}}, {"data": {"status": "completed"}}, False),
        ({"data": [1, 2]}, {"data": [1, 2]}, True),
        ({"data": [1, 2]}, {"data": [1]}, False),
        ({"data": 1}, {"data": {"x": 1}}, False),
        ({}, {"data": None}, False),
    ],
)
def test_event_match(event: Any, match: Any, result: bool) -> None:
    assert event_match(event, match) is result
