"""The harness itself: Machine launch, failure reporting, cleanup (also when a test fails),
and the migemu QMP probe."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from typing import Any, Callable

import pytest
from machine import (
    Machine,
    MachineError,
    free_tcp_port,
    migemu_binary,
    probe_qmp,
    qemu_binary,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def script(tmp_path: Any, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.qemu
def test_launch_and_shutdown(qemu: Callable[..., Machine]) -> None:
    vm = qemu("-name", "harness", qmp_sockets=2)
    tmpdir = vm.tmpdir
    assert tmpdir is not None and os.path.isdir(tmpdir)
    assert stat.S_ISSOCK(os.stat(vm.qmp_path(1)).st_mode)
    assert vm.argv[1:] == [
        "-M", "none", "-nodefaults", "-display", "none",
        "-qmp", f"unix:{tmpdir}/qmp0.sock,server=on,wait=off",
        "-qmp", f"unix:{tmpdir}/qmp1.sock,server=on,wait=off",
        "-name", "harness",
    ]  # fmt: skip
    assert vm.is_running() and vm.exitcode is None
    assert vm.cmd("query-name") == {"name": "harness"}
    assert vm.hmp("info name") == "harness\r\n"
    pid = vm.pid
    assert vm.shutdown() == 0  # QEMU exits 0 on SIGTERM
    assert not alive(pid)
    assert not os.path.exists(tmpdir)
    assert "terminating on signal 15" in vm.stderr_text()
    assert vm.exitcode == 0
    assert vm.shutdown() == 0  # idempotent
    with pytest.raises(MachineError, match="no QMP connection"):
        vm.qmp.cmd("query-status")


@pytest.mark.qemu
def test_quit_and_wait(qemu: Callable[..., Machine]) -> None:
    vm = qemu("-S")
    assert vm.query_status()["status"] == "prelaunch"
    vm.cmd("cont")
    assert vm.wait_for_status("running")["running"] is True
    assert vm.query_migrate() == {}
    with pytest.raises(MachineError, match="status is still 'running' after 0.1 s"):
        vm.wait_for_status("paused", timeout=0.1)
    vm.cmd("quit")
    assert vm.wait(timeout=10) == 0
    assert vm.exitcode == 0
    with pytest.raises(MachineError, match="exited with code 0"):
        vm.connect(0)


@pytest.mark.qemu
def test_wait_migration_times_out_with_the_last_answer(qemu: Callable[..., Machine]) -> None:
    vm = qemu()
    with pytest.raises(MachineError, match=r"migration status None after 0.1 s"):
        vm.wait_migration(timeout=0.1)


@pytest.mark.qemu
def test_launch_failure_reports_exit_code_and_stderr() -> None:
    binary = qemu_binary()
    assert binary is not None
    vm = Machine(binary, ["-no-such-option"], name="bad")
    with pytest.raises(MachineError) as e:
        vm.launch()
    message = str(e.value)
    assert "the process exited with code 1" in message
    assert "-no-such-option: invalid option" in message
    assert vm.tmpdir is None  # cleaned up already
    assert "invalid option" in vm.stderr_text()


def test_missing_binary(tmp_path: Any) -> None:
    with pytest.raises(MachineError, match="is not an executable"):
        Machine(str(tmp_path / "nothing")).launch()


def test_kill_after_grace_period(tmp_path: Any) -> None:
    stubborn = script(tmp_path, "stubborn", "trap '' TERM\necho started >&2\nexec sleep 60\n")
    vm = Machine(stubborn, qmp_sockets=0, base_args=()).launch()
    end = time.monotonic() + 10
    while vm.stderr_text() != "started\n":  # the trap is set from here on
        assert time.monotonic() < end, "the script did not start"
        time.sleep(0.01)
    assert vm.is_running()
    assert vm.shutdown(grace=0.2) == -signal.SIGKILL
    assert vm.stderr_text() == "started\n"


def test_no_qmp_socket_within_the_launch_timeout(tmp_path: Any) -> None:
    silent = script(tmp_path, "silent", "exec sleep 60\n")
    vm = Machine(silent, launch_timeout=0.3)
    with pytest.raises(MachineError, match=r"within 0.3 s.*the process is running"):
        vm.launch()
    assert not vm.is_running()


def test_output_capture(tmp_path: Any) -> None:
    chatty = script(tmp_path, "chatty", 'echo "out $*"\necho err >&2\n')
    vm = Machine(chatty, ["a", "b"], qmp_sockets=0, base_args=("-x",)).launch()
    assert vm.wait() == 0
    assert vm.stdout_text() == "out -x a b\n"
    vm.shutdown()
    assert (vm.stdout_text(), vm.stderr_text()) == ("out -x a b\n", "err\n")


def test_free_tcp_port() -> None:
    port = free_tcp_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_probe(tmp_path: Any) -> None:
    exits = script(tmp_path, "exits", "echo bye >&2\nexit 0\n")
    serves, reason = probe_qmp(exits)
    assert not serves
    assert reason == (
        f"{exits} does not serve QMP yet: it exited with code 0 without creating its -qmp "
        "socket; stderr: 'bye'"
    )
    serves, reason = probe_qmp(str(tmp_path / "missing"))
    assert not serves and "does not exist" in reason
    binary = qemu_binary()
    if binary is not None:
        assert probe_qmp(binary) == (True, "")


def test_default_binary_is_migemu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGEMU_BUILD", "/some/build")
    assert migemu_binary() == "/some/build/migemu"
    assert Machine().binary == "/some/build/migemu"


@pytest.mark.qemu
def test_machines_are_cleaned_up_when_a_test_fails(tmp_path: Any) -> None:
    """Runs a failing test in a child pytest and checks its machine is gone afterwards."""
    record = tmp_path / "record"
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            f"""
            def test_fails(qemu):
                vm = qemu(qmp_sockets=2)
                vm.connect(1)
                with open({str(record)!r}, "w") as f:
                    f.write(f"{{vm.pid}} {{vm.tmpdir}}")
                assert False, "deliberate failure"
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
         str(tmp_path / "test_inner.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": HERE},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliberate failure" in result.stdout
    # The report carries the machine's command line and stderr (empty while it ran).
    assert "- qemu0 stderr -" in result.stdout
    assert "-M none -nodefaults -display none -qmp unix:" in result.stdout
    pid, tmpdir = record.read_text().split()
    assert not alive(int(pid))
    assert not os.path.exists(tmpdir)
