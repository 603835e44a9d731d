"""The QMP protocol as QEMU 7.2 speaks it (docs/reference/qmp-migration.md §1).

Every test runs against the real QEMU (``[qemu]``) and against migemu (``[migemu]``, skipped
until build/migemu serves QMP). The expected texts below are QEMU 7.2's, observed on the
binary. For migemu, Target.check also runs each scenario on QEMU and compares the complete
normalised transcripts, so a difference the asserts do not spell out still fails.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Dict, List, Tuple

import pytest
from compare import canonical, error, event_names, exchange, generic, ok
from conftest import Target
from machine import Machine, free_tcp_port

from qmp import Message, QMPClient, QMPTimeoutError

NEGOTIATE_FIRST = "Expecting capabilities negotiation with 'qmp_capabilities'"
ALREADY_NEGOTIATED = "Capabilities negotiation is already complete, command ignored"
RUNNING = {"status": "running", "singlestep": False, "running": True}
PAUSED = {"status": "paused", "singlestep": False, "running": False}
PRELAUNCH = {"status": "prelaunch", "singlestep": False, "running": False}


def parse_error(reason: str) -> Message:
    return generic(f"JSON parse error, {reason}")


def read_raw_line(path: str, timeout: float = 10.0) -> bytes:
    """Connects to a unix socket and returns the first line the server sends, raw."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def check_timestamp(event: Message) -> None:
    stamp = event["timestamp"]
    assert set(stamp) == {"seconds", "microseconds"}
    assert type(stamp["seconds"]) is int and type(stamp["microseconds"]) is int
    assert 0 <= stamp["microseconds"] <= 999999
    # Wall-clock time, like QEMU's g_get_real_time().
    assert abs(stamp["seconds"] + stamp["microseconds"] / 1e6 - time.time()) < 60


# -- greeting and negotiation --------------------------------------------------------------


def test_greeting(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        raw = read_raw_line(vm.qmp_path(1)).decode()
        # One line, "\r\n"-terminated, in QEMU's compact style with ", " and ": " separators.
        wire = [raw.endswith("\r\n"), raw.count("\n"), json.dumps(json.loads(raw)) == raw[:-2]]
        return [wire, vm.qmp.greeting, vm.qmp.cmd("query-version")]

    wire, greeting, version = target.check(scenario, qmp_sockets=2)
    assert wire == [True, 1, True]
    assert list(greeting) == ["QMP"]
    assert set(greeting["QMP"]) == {"version", "capabilities"}
    qmp_version = greeting["QMP"]["version"]
    assert set(qmp_version) == {"qemu", "package"}
    assert isinstance(qmp_version["package"], str)
    assert set(qmp_version["qemu"]) == {"major", "minor", "micro"}
    assert (qmp_version["qemu"]["major"], qmp_version["qemu"]["minor"]) == (7, 2)
    assert type(qmp_version["qemu"]["micro"]) is int
    capabilities = greeting["QMP"]["capabilities"]
    assert isinstance(capabilities, list) and set(capabilities) <= {"oob"}
    assert version == qmp_version


def test_negotiation(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        c = vm.qmp
        return [
            c.cmd_raw({"execute": "query-status"}),
            c.cmd_raw({"execute": "query-status", "id": "a"}),
            c.cmd_raw({"execute": "no-such-command"}),
            c.cmd_raw({}),
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"enable": ["no-such-cap"]}}),
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"enable": "oob"}}),
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"enable": [1]}}),
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"x": 1}}),
            c.cmd_raw({"execute": "query-status"}),
            c.cmd_raw({"execute": "qmp_capabilities", "id": 7}),
            c.cmd_raw({"execute": "query-status"}),
            c.cmd_raw({"execute": "qmp_capabilities"}),
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}),
        ]

    assert target.check(scenario, negotiate=False) == [
        error("CommandNotFound", NEGOTIATE_FIRST),
        error("CommandNotFound", NEGOTIATE_FIRST, id="a"),
        error("CommandNotFound", NEGOTIATE_FIRST),
        generic("QMP input lacks member 'execute'"),
        # An unknown capability fails in the QMPCapability enum visitor; QEMU 7.2 names the
        # list element 'null' in this message.
        generic("Parameter 'null' does not accept value 'no-such-cap'"),
        generic("Invalid parameter type for 'enable', expected: array"),
        generic("Invalid parameter type for 'enable[0]', expected: string"),
        generic("Parameter 'x' is unexpected"),
        # Failed negotiations leave the monitor in negotiation mode.
        error("CommandNotFound", NEGOTIATE_FIRST),
        ok(id=7),
        ok(RUNNING),
        error("CommandNotFound", ALREADY_NEGOTIATED),
        error("CommandNotFound", ALREADY_NEGOTIATED),
    ]


def test_oob_negotiation_and_exec_oob(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        if "oob" not in vm.qmp.greeting["QMP"]["capabilities"]:
            pytest.skip("the monitor does not offer the oob capability")
        c = vm.qmp
        return [
            c.cmd_raw({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}),
            c.cmd_raw({"exec-oob": "query-status"}),
            c.cmd_raw({"exec-oob": "query-status", "execute": "query-status"}),
            c.cmd_raw({"execute": "query-status", "exec-oob": 1}),
            c.cmd_raw({"exec-oob": "no-such-command", "id": 3}),
            c.cmd_raw({"exec-oob": "query-status", "foo": 1}),
            c.cmd_raw({"execute": "query-status"}),
        ]

    assert target.check(scenario, negotiate=False) == [
        ok(),
        generic("The command query-status does not support OOB"),
        generic("QMP input member 'execute' clashes with 'exec-oob'"),
        generic("QMP input member 'exec-oob' must be a string"),
        error("CommandNotFound", "The command no-such-command has not been found", id=3),
        generic("QMP input member 'foo' is unexpected"),
        ok(RUNNING),
    ]


def test_events_only_after_negotiation(target: Target) -> None:
    def scenario(vm: Machine) -> List[List[str]]:
        late = vm.connect(1, negotiate=False)
        vm.qmp.cmd("stop")  # emitted while `late` is still negotiating: never delivered to it
        late.cmd_raw({"execute": "query-status"})
        before = event_names(late.events())
        late.negotiate()
        vm.qmp.cmd("cont")
        late.cmd("query-status")  # a round trip: the event was queued before this answer
        after = event_names(late.events())
        return [before, after, event_names(vm.qmp.events())]

    assert target.check(scenario, qmp_sockets=2) == [[], ["RESUME"], ["STOP", "RESUME"]]


# -- request shape --------------------------------------------------------------------------

# (request object, expected error) for every request-shape check of qmp-dispatch, in command
# mode. Requests with several problems show the order of the checks.
SHAPE_ERRORS: List[Tuple[Dict[str, Any], Message]] = [
    ({"execute": 1}, generic("QMP input member 'execute' must be a string")),
    ({"execute": ["query-status"]}, generic("QMP input member 'execute' must be a string")),
    ({"execute": None}, generic("QMP input member 'execute' must be a string")),
    # Without the oob capability, exec-oob is just an unknown member.
    ({"exec-oob": 1}, generic("QMP input member 'exec-oob' is unexpected")),
    ({"exec-oob": "query-status"}, generic("QMP input member 'exec-oob' is unexpected")),
    (
        {"execute": "query-status", "exec-oob": "query-status"},
        generic("QMP input member 'exec-oob' is unexpected"),
    ),
    (
        {"execute": "query-status", "arguments": []},
        generic("QMP input member 'arguments' must be an object"),
    ),
    (
        {"execute": "query-status", "arguments": None},
        generic("QMP input member 'arguments' must be an object"),
    ),
    (
        {"execute": "query-status", "arguments": "x"},
        generic("QMP input member 'arguments' must be an object"),
    ),
    ({"execute": "query-status", "foo": 1}, generic("QMP input member 'foo' is unexpected")),
    (
        {"execute": "query-status", "control": {}},
        generic("QMP input member 'control' is unexpected"),
    ),
    ({}, generic("QMP input lacks member 'execute'")),
    ({"foo": 1}, generic("QMP input member 'foo' is unexpected")),
    ({"arguments": 1}, generic("QMP input member 'arguments' must be an object")),
    ({"arguments": {}}, generic("QMP input lacks member 'execute'")),
    ({"foo": 2, "execute": 1}, generic("QMP input member 'execute' must be a string")),
    (
        {"execute": "query-status", "arguments": 1, "foo": 1},
        generic("QMP input member 'arguments' must be an object"),
    ),
    (
        {"execute": "no-such-command"},
        error("CommandNotFound", "The command no-such-command has not been found"),
    ),
    (
        {"execute": "no-such-command", "arguments": 1},
        generic("QMP input member 'arguments' must be an object"),
    ),
    ({"execute": "query-status", "arguments": {"x": 1}}, generic("Parameter 'x' is unexpected")),
    ({"execute": "human-monitor-command"}, generic("Parameter 'command-line' is missing")),
    (
        {"execute": "human-monitor-command", "arguments": {"command-line": 5}},
        generic("Invalid parameter type for 'command-line', expected: string"),
    ),
]


def test_request_shape_errors(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        out = []
        for request, _ in SHAPE_ERRORS:
            out.append(vm.qmp.cmd_raw(request))
            out.append(vm.qmp.cmd_raw({**request, "id": "x"}))
        for raw in (b"[1]", b'"text"', b"null ", b"true ", b"1 ", b"[" * 1024 + b"]" * 1024):
            out.append(vm.qmp.cmd_raw(raw))
        out.append(vm.qmp.cmd_raw({"execute": "query-status", "arguments": {}}))
        return out

    expected = []
    for _, response in SHAPE_ERRORS:
        expected += [response, {"id": "x", **response}]
    expected += [generic("QMP input must be a JSON object")] * 6
    expected += [ok(RUNNING)]
    assert target.check(scenario) == expected


# -- id --------------------------------------------------------------------------------------

IDS: List[Any] = [
    None,
    True,
    False,
    0,
    -1,
    42,
    -9223372036854775808,
    12345678901234567890,
    1.5,
    -0.25,
    1.5e300,
    "",
    "text",
    "caf\u00e9 \u0001\t\"\\/",
    [],
    [1, [2, "three"], {"four": None}],
    {},
    {"a": {"b": [True, None, 1.5]}},
]


def test_id_is_echoed_verbatim(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        out = []
        for value in IDS:
            out.append(vm.qmp.cmd_raw({"execute": "query-status", "id": value}))
            out.append(vm.qmp.cmd_raw({"execute": "no-such-command", "id": value}))
            out.append(vm.qmp.cmd_raw({"id": value}))
            out.append(vm.qmp.cmd_raw({"execute": "query-status", "id": value, "x": 1}))
            out.append(vm.qmp.cmd_raw({"execute": "query-status", "id": value, "arguments": 1}))
        return out

    responses = target.check(scenario)
    assert len(responses) == 5 * len(IDS)
    for i, response in enumerate(responses):
        sent = IDS[i // 5]
        assert "id" in response, response
        assert canonical(response["id"]) == canonical(sent), (sent, response)
    first = responses[:5]
    assert first[0] == ok(RUNNING, id=None)
    assert first[1] == error(
        "CommandNotFound", "The command no-such-command has not been found", id=None
    )
    assert first[2] == generic("QMP input lacks member 'execute'", id=None)
    assert first[3] == generic("QMP input member 'x' is unexpected", id=None)
    assert first[4] == generic("QMP input member 'arguments' must be an object", id=None)


def test_id_wire_format(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(vm.qmp_path(1))
            s.sendall(b'{"execute":"qmp_capabilities","id":"caf\\u00e9\\u0001"}')
            data = b""
            while data.count(b"\n") < 2:
                chunk = s.recv(4096)
                assert chunk, "connection closed"
                data += chunk
            line = data.split(b"\r\n")[1].decode()
            # Non-ASCII and control characters leave as \\uXXXX with upper-case hex.
            return ['"id": "caf\\u00E9\\u0001"' in line, json.loads(line)]

    assert target.check(scenario, qmp_sockets=2) == [True, ok(id="caf\u00e9\u0001")]


# -- malformed JSON --------------------------------------------------------------------------

AFTER = b'{"execute":"query-status","id":"after"}'

# (input, the responses it produces) — each case is followed by AFTER, whose answer shows the
# parser recovered. Each case uses a fresh connection (the parser is reset on connect).
MALFORMED: List[Tuple[bytes, List[Message]]] = [
    (b"}", [parse_error("expecting value")]),
    (b"]", [parse_error("expecting value")]),
    (b"@", [parse_error("stray '@'")]),
    (b"@@@", [parse_error("stray '@'")]),
    (b"\t@ @\n", [parse_error("stray '@'")]),
    (b"\x00", [parse_error("stray ''")]),  # the token text ends at the NUL
    (b"\xff", [parse_error("stray '\ufffd'")]),
    (b"abc", [parse_error("invalid keyword 'abc'")]),
    (b"-\n", [parse_error("stray '-\n'")]),
    (b'{"a" 1}', [parse_error("missing : in object pair")]),
    (b"{1:2}", [parse_error("key is not a string in object")]),
    (b'{"a":1 "b":2}', [parse_error("expected separator in dict")]),
    (b"[1 2]", [parse_error("expected separator in list")]),
    (b'["\\x"]', [parse_error("invalid escape sequence in string")]),
    (b'{"a":"\\ud800"}', [parse_error("\\ud800 is not a valid Unicode character")]),
    (b'{"a":"\\u00"}', [parse_error('\\u00" is not a valid Unicode character')]),
    (b'{"a":"\x01"}', [parse_error("stray '\"\x01'"), parse_error("expecting value")]),
    (b'{"a":tru}', [parse_error("invalid keyword 'tru'")]),
    (b'{"a":1,}', [parse_error("expecting value")]),
    (b"[1,]", [parse_error("expecting value")]),
    (b'{"a":1,"a":2}', [parse_error("duplicate key")]),
    # QEMU's parser also accepts single-quoted strings.
    (b"{'execute':'query-status'}", [ok(RUNNING)]),
    # A top-level number is only complete once the next character arrives.
    (b"1", [generic("QMP input must be a JSON object")]),
    (
        b"[" * 1025 + b"]" * 1025,
        [generic("JSON nesting depth limit exceeded")] + [parse_error("expecting value")] * 1025,
    ),
]


def test_malformed_json_and_recovery(target: Target) -> None:
    def scenario(vm: Machine) -> List[List[Message]]:
        out = []
        for data, expected in MALFORMED:
            with vm.connect(1) as client:
                out.append(exchange(client, data + AFTER, len(expected) + 1))
        return out

    results = target.check(scenario, qmp_sockets=2)
    for (data, expected), got in zip(MALFORMED, results):
        assert got == expected + [ok(RUNNING, id="after")], data[:40]


def test_lexer_error_inside_a_number_swallows_the_next_brace(target: Target) -> None:
    # The stray token includes the character that ended it, so recovery starts after the
    # '{' and the rest of the request is parsed as loose tokens.
    def scenario(vm: Machine) -> List[Message]:
        with vm.connect(1) as client:
            return exchange(client, b"-" + AFTER, 8)

    got = target.check(scenario, qmp_sockets=2)
    assert got[0] == parse_error("stray '-{'")
    assert got[1:] == [
        parse_error("expecting value"),
        generic("QMP input must be a JSON object"),
    ] * 3 + [parse_error("expecting value")]


# -- framing ---------------------------------------------------------------------------------


def test_several_requests_in_one_write(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        data = (
            b'{"execute":"query-status","id":1}'
            b'{"execute":"stop","id":2}\n'
            b'  {"execute":"query-status","id":3}\r\n'
            b'{"execute":"no-such-command","id":4}{"execute":"cont","id":5}'
        )
        responses = exchange(vm.qmp, data, 5)
        return [responses, event_names(vm.qmp.events())]

    responses, events = target.check(scenario)
    assert responses == [
        ok(RUNNING, id=1),
        ok(id=2),
        ok(PAUSED, id=3),
        error("CommandNotFound", "The command no-such-command has not been found", id=4),
        ok(id=5),
    ]
    assert events == ["STOP", "RESUME"]


SPLITS: List[Tuple[bytes, bytes, Any]] = [
    (b'{"execute":"query-', b'status","id":1}', 1),
    (b'{"execute":"query-status","id":12', b"34}", 1234),  # inside a number
    (b'{"execute":"query-status","id":tr', b"ue}", True),  # inside a keyword
    (b'{"execute":"query-status","id":"\xc3', b'\xa9"}', "\u00e9"),  # inside a UTF-8 char
    (b'{"execute":"query-status","id":"\\u00', b'e9"}', "\u00e9"),  # inside an escape
    (b"{", b'"execute":"query-status","id":2}', 2),
    (b'{"execute":"query-status","id":3', b"}", 3),
]


def test_request_split_across_writes(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        out = []
        for first, second, _ in SPLITS:
            vm.qmp.send_raw(first)
            with pytest.raises(QMPTimeoutError):
                vm.qmp.read_response(timeout=0.1)  # nothing until the value is complete
            vm.qmp.send_raw(second)
            out.append(vm.qmp.read_response())
        request = b'{"execute": "query-status", "id": "bytes"}'
        for i in range(len(request)):
            vm.qmp.send_raw(request[i : i + 1])
        out.append(vm.qmp.read_response())
        return out

    responses = target.check(scenario)
    assert responses == [ok(RUNNING, id=value) for _, _, value in SPLITS] + [
        ok(RUNNING, id="bytes")
    ]


# -- events and clients ----------------------------------------------------------------------


def test_events_reach_every_negotiated_client(target: Target) -> None:
    def scenario(vm: Machine) -> List[List[Message]]:
        a, b = vm.qmp, vm.connect(1)
        a.cmd("stop")
        stop_a, stop_b = a.wait_event("STOP"), b.wait_event("STOP")
        b.cmd("cont")
        resume_a, resume_b = a.wait_event("RESUME"), b.wait_event("RESUME")
        return [[stop_a, stop_b], [resume_a, resume_b], a.events() + b.events()]

    (stop_a, stop_b), (resume_a, resume_b), rest = target.check(scenario, qmp_sockets=2)
    for event in (stop_a, stop_b, resume_a, resume_b):
        assert set(event) == {"timestamp", "event"}  # no "data" for STOP and RESUME
        check_timestamp(event)
    assert stop_a == stop_b and resume_a == resume_b  # one event, same timestamp for all
    assert (stop_a["event"], resume_a["event"]) == ("STOP", "RESUME")
    assert rest == []


def test_client_disconnecting_mid_command(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        out: List[Any] = []
        # Half a request, then gone.
        client = vm.connect(1)
        client.send_raw(b'{"execute":"query-sta')
        client.close()
        # Whole requests, gone before the answers are written. (No command with side
        # effects here: QEMU drops requests still queued when the client goes away.)
        client = vm.connect(1)
        client.send_raw(b'{"execute":"query-status"}' * 20)
        client.close()
        # Gone before negotiating, after sending garbage.
        client = vm.connect(1, negotiate=False)
        client.send_raw(b"\xff\xfe{{{")
        client.close()
        # The monitor accepts the next client and the other monitor never noticed.
        client = vm.connect(1)
        out.append(client.cmd_raw({"execute": "query-status", "id": "new"}))
        out.append(vm.qmp.cmd_raw({"execute": "query-status", "id": "other"}))
        out.append(event_names(vm.qmp.events()))
        return out

    assert target.check(scenario, qmp_sockets=2) == [
        ok(RUNNING, id="new"),
        ok(RUNNING, id="other"),
        [],
    ]


def test_tcp_monitor(target: Target) -> None:
    port = free_tcp_port()

    def scenario(vm: Machine) -> List[Any]:
        with QMPClient(f"127.0.0.1:{port}", connect_timeout=10) as client:
            return [client.greeting, client.cmd_raw({"execute": "query-status", "id": "tcp"})]

    greeting, response = target.check(
        scenario, "-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off"
    )
    assert list(greeting) == ["QMP"]
    assert response == ok(RUNNING, id="tcp")


# -- commands --------------------------------------------------------------------------------


def test_query_status_stop_cont(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        q = vm.qmp
        out: List[Any] = []

        def step(command: str) -> None:
            out.append([command, q.cmd(command), event_names(q.events())])
            out.append([q.cmd("query-status"), vm.hmp("info status")])

        out.append([q.cmd("query-status"), vm.hmp("info status")])
        for command in ("stop", "stop", "cont", "cont"):
            step(command)
        return out

    assert target.check(scenario) == [
        [RUNNING, "VM status: running\r\n"],
        ["stop", {}, ["STOP"]],
        [PAUSED, "VM status: paused\r\n"],
        ["stop", {}, []],  # already stopped: no event
        [PAUSED, "VM status: paused\r\n"],
        ["cont", {}, ["RESUME"]],
        [RUNNING, "VM status: running\r\n"],
        ["cont", {}, []],  # already running: no event
        [RUNNING, "VM status: running\r\n"],
    ]


def test_prelaunch_with_dash_s(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        q = vm.qmp
        return [
            q.cmd("query-status"),
            vm.hmp("info status"),
            q.cmd("cont"),
            event_names(q.events()),
            vm.wait_for_status("running"),
        ]

    assert target.check(scenario, "-S") == [
        PRELAUNCH,
        "VM status: paused (prelaunch)\r\n",
        {},
        ["RESUME"],
        RUNNING,
    ]


def test_query_version(target: Target) -> None:
    def scenario(vm: Machine) -> Any:
        return vm.qmp.cmd_raw({"execute": "query-version", "id": 1})

    response = target.check(scenario)
    assert set(response) == {"return", "id"}
    version = response["return"]
    assert set(version) == {"qemu", "package"}
    assert isinstance(version["package"], str)
    assert set(version["qemu"]) == {"major", "minor", "micro"}
    assert (version["qemu"]["major"], version["qemu"]["minor"]) == (7, 2)


def test_hmp_errors_are_output_not_qmp_errors(target: Target) -> None:
    def scenario(vm: Machine) -> List[Message]:
        return [
            vm.qmp.cmd_raw(
                {"execute": "human-monitor-command", "arguments": {"command-line": "nonsense"}}
            ),
            vm.qmp.cmd_raw(
                {
                    "execute": "human-monitor-command",
                    "arguments": {"command-line": "info status", "cpu-index": 0},
                }
            ),
        ]

    assert target.check(scenario) == [
        ok("unknown command: 'nonsense'\r\n"),
        # Machine 'none' has no CPU, so any CPU index is refused.
        generic("Parameter 'cpu-index' expects a CPU number"),
    ]


def test_quit(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        other = vm.connect(1)
        response = vm.qmp.cmd_raw({"execute": "quit", "id": "bye"})
        vm.qmp.wait_disconnect()
        other.wait_disconnect()
        shutdown = vm.qmp.events()
        code = vm.wait()
        return [response, shutdown, other.events(), code]

    response, shutdown, other, code = target.check(scenario, qmp_sockets=2)
    assert response == ok(id="bye")
    assert [(e["event"], e["data"]) for e in shutdown] == [
        ("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    ]
    check_timestamp(shutdown[0])
    assert other == shutdown
    assert code == 0
