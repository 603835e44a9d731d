"""qmp-shell: its command-line syntax (QEMU's qmp-shell syntax), and the executable driving
QEMU and migemu through a pipe and through a terminal (readline history and completion)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import pytest
from conftest import Target
from machine import REPO_ROOT, Machine

from qmp.shell import CommandBuilder, ShellError, add_arguments, parse_value, split_words

SHELL = os.path.join(REPO_ROOT, "scripts", "qmp-shell")


@pytest.mark.parametrize(
    "text,value",
    [
        ("1", 1),
        ("-5", -5),
        ("+7", 7),
        ("007", 7),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("null", None),
        ('"quoted string"', "quoted string"),
        ('""', ""),
        ("[1,2]", [1, 2]),
        ('{"a":{"b":null}}', {"a": {"b": None}}),
        # QEMU's Python-literal fallback for objects and arrays.
        ("{'a':'b','c':[True,None]}", {"a": "b", "c": [True, None]}),
        ("{'a':true,'b':null}", {"a": True, "b": None}),
        ("[1,'x']", [1, "x"]),
        # Everything else is a string.
        ("tcp:localhost:4444", "tcp:localhost:4444"),
        ("unix:/tmp/a b", "unix:/tmp/a b"),
        ("", ""),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1_000", "1_000"),
        ("0x10", "0x10"),
        ("{broken", "{broken"),
        ("[__import__('os')]", "[__import__('os')]"),
    ],
)
def test_parse_value(text: str, value: Any) -> None:
    got = parse_value(text)
    assert json.dumps(got) == json.dumps(value)


def test_split_words() -> None:
    assert split_words("  migrate  uri=tcp:h:1   detach=true ") == [
        "migrate",
        "uri=tcp:h:1",
        "detach=true",
    ]
    assert split_words('x name="my vm" a=\'b c\' j={"k":"v w"} k={"a": 1}') == [
        "x",
        'name="my vm"',
        "a='b c'",
        'j={"k":"v w"}',
        'k={"a":',  # like QEMU's: no spaces outside quotes
        "1}",
    ]
    assert split_words(r'x a="say \"hi\" there"') == ["x", r'a="say \"hi\" there"']
    assert split_words("") == []
    with pytest.raises(ShellError, match="Unterminated \" quote"):
        split_words('x a="oops')
    with pytest.raises(ShellError, match="Unterminated ' quote"):
        split_words("x a='oops")


def test_add_arguments_nested_keys() -> None:
    target: Dict[str, Any] = {}
    add_arguments(["a.b=1", "a.c.d=x", "e=[1]", 'f="s"'], target)
    assert target == {"a": {"b": 1, "c": {"d": "x"}}, "e": [1], "f": "s"}


@pytest.mark.parametrize(
    "words,message",
    [
        (["a"], "Expected a key=value pair, got 'a'"),
        (["a=1", "a=2"], 'Cannot set "a" multiple times'),
        (["a=1", "a.b=2"], 'Cannot use "a" as both leaf and non-leaf key'),
        (["a.b=1", "a=2"], 'Cannot use "a" as both leaf and non-leaf key'),
        (["a.b.c=1", "a.b=2"], 'Cannot use "a.b" as both leaf and non-leaf key'),
        (["=1"], "Empty key component in '=1'"),
        (["a..b=1"], "Empty key component in 'a..b=1'"),
    ],
)
def test_add_arguments_errors(words: List[str], message: str) -> None:
    with pytest.raises(ShellError) as e:
        add_arguments(words, {})
    assert str(e.value) == message


def test_command_builder() -> None:
    b = CommandBuilder()
    assert b.build("") is None
    assert b.build("query-status") == {"execute": "query-status"}
    line = "migrate-set-capabilities capabilities=[{'capability':'events','state':true}]"
    assert b.build(line) == {
        "execute": "migrate-set-capabilities",
        "arguments": {"capabilities": [{"capability": "events", "state": True}]},
    }


def test_transactions() -> None:
    b = CommandBuilder()
    assert b.build("transaction(") is None
    assert b.in_transaction
    assert b.build("block-dirty-bitmap-add node=d0 name=b1") is None
    assert b.build("abort") is None
    assert b.build(")") == {
        "execute": "transaction",
        "arguments": {
            "actions": [
                {"type": "block-dirty-bitmap-add", "data": {"node": "d0", "name": "b1"}},
                {"type": "abort", "data": {}},
            ]
        },
    }
    assert not b.in_transaction
    assert b.build("transaction( abort x.y=1 )") == {
        "execute": "transaction",
        "arguments": {"actions": [{"type": "abort", "data": {"x": {"y": 1}}}]},
    }
    b.build("transaction(")
    with pytest.raises(ShellError, match="Unexpected input after close"):
        b.build(") extra")


# -- the executable --------------------------------------------------------------------------


def run_shell(
    args: List[str], stdin: str, env: Optional[Dict[str, str]] = None
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, SHELL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def json_or_text(output: str) -> List[Any]:
    out: List[Any] = []
    for text in output.splitlines():
        try:
            out.append(json.loads(text))
        except ValueError:
            out.append(text)
    return out


QMP_SESSION = """\
query-status
stop
query-status

cont
query-status foo=1
no-such-command
human-monitor-command command-line="info status"
-H info status
-H nonsense
bad syntax
migrate-set-parameters downtime-limit=12345 tls-creds=""
query-migrate-parameters
quit
query-status
"""


def test_qmp_session_through_a_pipe(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        result = run_shell(["-q", vm.qmp_path(1)], QMP_SESSION)
        assert result.returncode == 0, result.stderr
        lines = json_or_text(result.stdout)
        parameters = lines[11]["return"]
        # Only the two parameters set above; the rest belongs to the migration tests.
        lines[11] = {k: parameters[k] for k in ("downtime-limit", "tls-creds")}
        return [lines, result.stderr]

    lines, stderr = target.check(scenario, qmp_sockets=2)
    running = {"status": "running", "singlestep": False, "running": True}
    assert lines[:9] == [
        {"return": running},
        {"return": {}},
        {"return": {"status": "paused", "singlestep": False, "running": False}},
        {"timestamp": lines[3]["timestamp"], "event": "STOP"},
        {"return": {}},
        {"error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}},
        {
            "error": {
                "class": "CommandNotFound",
                "desc": "The command no-such-command has not been found",
            }
        },
        {"return": "VM status: running\r\n"},
        "VM status: running",
    ]
    assert lines[9:] == [
        "unknown command: 'nonsense'",
        {"return": {}},
        {"downtime-limit": 12345, "tls-creds": ""},
        {"return": {}},
        "Disconnected",
    ]
    assert stderr == (
        "Error while parsing command line: Expected a key=value pair, got 'syntax'\n"
        "command format: <command-name> [arg-name1=arg1] ... [arg-nameN=argN]\n"
    )


def test_banner_prompt_verbose_and_pretty(target: Target) -> None:
    vm = target.launch(qmp_sockets=2)
    result = run_shell(["-v", "-p"], "query-status\n", env={"QMP_SOCKET": vm.qmp_path(1)})
    assert result.returncode == 0, result.stderr
    version = vm.qmp.cmd("query-version")["qemu"]
    assert result.stdout == (
        "Welcome to the QMP low-level shell!\n"
        f"Connected to QEMU {version['major']}.{version['minor']}.{version['micro']}\n"
        "\n"
        "(QEMU) {\n"
        '    "execute": "query-status"\n'
        "}\n"
        "{\n"
        '    "return": {\n'
        '        "running": true,\n'
        '        "singlestep": false,\n'
        '        "status": "running"\n'
        "    }\n"
        "}\n"
        "(QEMU) \n"
    )


def test_hmp_mode(target: Target) -> None:
    def scenario(vm: Machine) -> List[str]:
        session = "info status\nstop\ninfo status\ncpu 0\ncpu x\nnonsense\n"
        result = run_shell(["-H", "-q", vm.qmp_path(1)], session)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert target.check(scenario, qmp_sockets=2) == [
        "VM status: running",
        "VM status: paused",
        "bad CPU index: Parameter 'cpu-index' expects a CPU number",
        "cpu command takes an integer argument",
        "unknown command: 'nonsense'",
    ]


def test_logfile(target: Target, tmp_path: Any) -> None:
    vm = target.launch(qmp_sockets=2)
    log = tmp_path / "qmp.log"
    result = run_shell(["-q", "-l", str(log), vm.qmp_path(1)], "query-status\nx\n")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["execute"] for e in entries] == ["query-status", "x"]
    assert entries[0]["return"]["status"] == "running"
    assert entries[1]["error"]["class"] == "CommandNotFound"


def test_connection_errors(tmp_path: Any) -> None:
    missing = str(tmp_path / "missing.sock")
    result = run_shell([missing], "")
    assert result.returncode == 1
    assert result.stderr == f"ERROR: cannot connect to {missing}: No such file or directory\n"
    result = run_shell([], "", env={"QMP_SOCKET": ""})
    assert result.returncode == 2
    assert "QMP socket or TCP address must be specified" in result.stderr


class Terminal:
    """The master side of a pty: ``expect`` reads until a text appears and consumes the
    output up to and including it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def expect(self, needle: bytes, timeout: float = 10.0) -> bytes:
        end = time.monotonic() + timeout
        while needle not in self.pending:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; terminal shows {self.pending!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the other side has closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"{needle!r} not seen before EOF: {self.pending!r}")
            self.pending += chunk
        cut = self.pending.index(needle) + len(needle)
        seen, self.pending = self.pending[:cut], self.pending[cut:]
        return seen


def test_terminal_completion_and_history(target: Target, tmp_path: Any) -> None:
    vm = target.launch(qmp_sockets=2)
    home = tmp_path / "home"
    home.mkdir()
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, SHELL, vm.qmp_path(1)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "HOME": str(home), "TERM": "dumb"},
            start_new_session=True,
        )
        os.close(slave)
        slave = -1
        terminal = Terminal(master)
        try:
            terminal.expect(b"(QEMU) ")
            os.write(master, b"query-versio\t\n")  # tab completes the command name
            assert b"query-version" in terminal.expect(b'"package"')
            terminal.expect(b"(QEMU) ")
            os.write(master, b"\x04")  # Ctrl-D: end of input
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    history = (home / ".qmp-shell_history").read_text()
    assert "query-version" in history.splitlines()
