"""The human monitor: `-monitor stdio` typed into on a real pty (GNU readline), socket
monitors byte for byte against QEMU 7.2, and human-monitor-command for every command and
every error text, compared with the real binary where the states match."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import termios
import time
from typing import Any, Callable, List, Optional, Sequence

import pytest
from conftest import Target
from machine import Machine, free_tcp_port, migemu_binary, qemu_binary
from terminal import PtyProcess

from qmp import QMPClient

BANNER = "QEMU 7.2.0 monitor - type 'help' for more information"
BASE = ["-M", "none", "-nodefaults", "-display", "none"]


def normalise_version(data: bytes) -> bytes:
    """QEMU's banner carries its exact version (Debian: 7.2.x); migemu says 7.2.0."""
    return re.sub(rb"QEMU 7\.2\.\d+ monitor", b"QEMU 7.2.0 monitor", data)


# -- -monitor stdio -------------------------------------------------------------------------


def stdio_shell(tmp_path: Any, *args: str, home: Optional[str] = None) -> PtyProcess:
    if not os.access(migemu_binary(), os.X_OK):
        pytest.skip(f"{migemu_binary()} does not exist")
    qmp = str(tmp_path / "qmp.sock")
    argv = [migemu_binary(), *BASE, "-monitor", "stdio", "-qmp", f"unix:{qmp},server=on,wait=off"]
    home = home or str(tmp_path / "home")
    os.makedirs(home, exist_ok=True)
    return PtyProcess(
        [*argv, *args], env={"HOME": home}, stderr_path=str(tmp_path / "stderr.log")
    )


def qmp_of(tmp_path: Any) -> QMPClient:
    return QMPClient(str(tmp_path / "qmp.sock"), connect_timeout=10)


def test_stdio_banner_prompt_and_output(tmp_path: Any) -> None:
    with stdio_shell(tmp_path, "-name", "pty") as term:
        assert term.expect("(qemu) ").splitlines() == [BANNER, "(qemu) "]
        term.send("info status\r")
        term.expect("VM status: running")
        term.send("info name\r")
        term.expect("pty\n(qemu) ")
        term.send("stop\rinfo status\r")
        term.expect("VM status: paused\n(qemu) ")
        term.send("migrate_set_capability multifd yes\r")
        term.expect(
            "Expected 'on' or 'off'\n"
            'Try "help migrate_set_capability" for more information\n(qemu) '
        )
        # Output lines end in "\r\n", as QEMU's monitor writes them.
        assert b"VM status: paused\r\r\n" in term.raw or b"VM status: paused\r\n" in term.raw


def test_stdio_completion(tmp_path: Any) -> None:
    with stdio_shell(tmp_path) as term:
        term.expect("(qemu) ")
        term.send("migrate_set_cap\t")
        term.expect("(qemu) migrate_set_capability ")
        term.send("zero-c\t")
        term.expect("migrate_set_capability zero-copy-send ")
        term.send("o\t")
        # Two candidates: listed at once (as QEMU does), then the line again.
        term.expect("off  on")
        term.expect("(qemu) migrate_set_capability zero-copy-send o")
        term.send("\x15info mi\t")
        term.expect("migrate               migrate_capabilities  migrate_parameters")
        term.expect("(qemu) info migrate")
        term.send("\x15migrate_set_parameter max-b\t")
        term.expect("migrate_set_parameter max-bandwidth ")
        term.send("\x15help info ve\t")
        term.expect("help info version ")
        term.send("\r")
        term.expect("info version  -- show the version of QEMU")


def test_stdio_history_in_memory_and_in_a_file(tmp_path: Any) -> None:
    home = str(tmp_path / "home")
    with stdio_shell(tmp_path, home=home) as term:
        term.expect("(qemu) ")
        term.send("info status\rinfo name\rinfo status\r")
        term.expect("VM status: running\n(qemu) ")
        term.send("\x1b[A\x1b[A")  # up twice: the repeated line moved to the end
        term.expect("(qemu) info name")
        term.send("\x15info history\r")
        term.expect("0: 'info name'\n1: 'info status'\n2: 'info history'\n(qemu) ")
        term.send("q\r")
        assert term.wait() == 0
    with open(os.path.join(home, ".migemu_history")) as f:
        assert f.read().split("\n")[-3:] == ["info history", "q", ""]
    with stdio_shell(tmp_path, home=home) as term:
        term.expect("(qemu) ")
        term.send("\x1b[A")
        term.expect("(qemu) q")
        term.send("\x15\r")


def test_stdio_without_a_writable_home_keeps_history_in_memory(tmp_path: Any) -> None:
    home = str(tmp_path / "missing")
    with stdio_shell(tmp_path, home=home) as term:
        os.rmdir(home)
        term.expect("(qemu) ")
        term.send("info status\r\x1b[A")
        term.expect("(qemu) info status")
        term.send("\x15q\r")
        assert term.wait() == 0
    assert not os.path.exists(home)


def test_stdio_ctrl_d_quits_and_restores_the_terminal(tmp_path: Any) -> None:
    with stdio_shell(tmp_path) as term:
        term.expect("(qemu) ")
        client = qmp_of(tmp_path)
        # While the shell runs, the terminal is in readline's raw mode.
        assert not termios.tcgetattr(term.slave)[3] & termios.ICANON
        term.send("\x04")
        assert term.wait() == 0
        client.wait_disconnect()
        events = [(e["event"], e.get("data")) for e in client.events()]
        assert events == [("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})]
        client.close()
        attrs = term.termios_now()
        assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO
        assert attrs[3] == term.initial_termios[3]


def test_stdio_eof_of_piped_input_quits(tmp_path: Any) -> None:
    argv = [migemu_binary(), *BASE, "-monitor", "stdio"]
    result = subprocess.run(
        argv,
        input=b"info status\nmigrate_set_parameter downtime-limit 1k\n"
        b"info migrate_parameters",
        capture_output=True,
        timeout=20,
        env={**os.environ, "HOME": str(tmp_path), "INPUTRC": "/dev/null"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert BANNER in out
    assert "VM status: running\r\n" in out
    # The last line had no line end: EOF finishes it, then quits.
    assert "downtime-limit: 1024 ms\r\n" in out


def test_stdio_qmp_keeps_flowing_while_a_person_types(tmp_path: Any) -> None:
    with stdio_shell(tmp_path) as term:
        term.expect("(qemu) ")
        client = qmp_of(tmp_path)
        term.send("info sta")
        term.expect("(qemu) info sta")
        assert client.cmd("stop") == {}
        assert [e["event"] for e in client.events(timeout=5)] == ["STOP"]
        assert client.hmp("info status") == "VM status: paused\r\n"
        term.send("tus\r")
        term.expect("(qemu) info status\nVM status: paused\n(qemu) ")
        term.send("cont\r")
        assert client.wait_event("RESUME", timeout=5)["event"] == "RESUME"
        client.close()


def test_stdio_synchronous_migrate_holds_the_prompt(tmp_path: Any, migemu: Callable[..., Machine]) -> None:
    port = free_tcp_port()
    dest = migemu("-m", "32M", "-incoming", f"tcp:127.0.0.1:{port}")
    with stdio_shell(tmp_path, "-m", "32M") as term:
        term.expect("(qemu) ")
        term.send(f"migrate tcp:127.0.0.1:{port}\r")
        term.expect(f"(qemu) migrate tcp:127.0.0.1:{port}\n")
        # Typed while the monitor waits: neither echoed nor run until the migration ends.
        term.send("info status\r")
        term.expect("(qemu) info status\nVM status: paused (postmigrate)\n(qemu) ", timeout=60)
        term.send("info migrate\r")
        term.expect("Migration status: completed\n")
    assert dest.wait_for_status("running", timeout=30)["status"] == "running"


# -- socket monitors --------------------------------------------------------------------------


class SocketMonitor:
    """A client of a socket monitor that reads until the output goes quiet."""

    def __init__(self, address: Any, family: int = socket.AF_UNIX, timeout: float = 10.0):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        end = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(address)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() >= end:
                    raise
                time.sleep(0.02)

    def read_until(self, needle: bytes, timeout: float = 10.0) -> bytes:
        data = b""
        self.sock.settimeout(timeout)
        while needle not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def exchange(self, data: bytes, end: bytes = b"(qemu) ") -> bytes:
        self.sock.sendall(data)
        return self.read_until(end)

    def close(self) -> None:
        self.sock.close()


SOCKET_SESSION: Sequence[bytes] = (
    b"info status\n",
    b"info status\r\n",  # two line ends: the second is an empty command
    b"nosuch cmd\n",
    b"migrate_s\t\x15\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\n",
    b"ab\x1b[Dc\x01\x04\x05\x17\n",
    b"\x1b[A\x1b[A\n",
    b"stop\n",
    b"info status\n",
    b"migrate_set_capability multifd \t\n",
    b"\x0c",
    b"migrate_set_parameter downtime-limit 1k\ninfo migrate_parameters\n",
    b"info history\n",
)


def test_tcp_monitor_session_matches_qemu(target: Target) -> None:
    port = free_tcp_port()

    def scenario(vm: Machine) -> List[bytes]:
        mon = SocketMonitor(("127.0.0.1", port), socket.AF_INET)
        out = [normalise_version(mon.read_until(b"(qemu) "))]
        for data in SOCKET_SESSION:
            # Wait for the last prompt each piece produces.
            prompts = data.count(b"\n") + data.count(b"\x0c") + data.count(b"\t")
            got = b""
            mon.sock.sendall(data)
            while got.count(b"(qemu) ") < max(prompts, 1):
                got += mon.read_until(b"(qemu) ")
            out.append(got)
        mon.close()
        return out

    out = target.check(
        scenario, "-monitor", f"tcp:127.0.0.1:{port},server=on,wait=off", qmp_sockets=1
    )
    assert out[0] == f"{BANNER}\r\n(qemu) ".encode()
    assert out[1].endswith(b"info status\x1b[K\r\nVM status: running\r\n(qemu) ")
    assert out[2].endswith(b"\r\n(qemu) \r\n(qemu) ")


def test_unix_monitor_one_client_at_a_time_and_history_survives(
    migemu: Callable[..., Machine], tmp_path: Any
) -> None:
    path = str(tmp_path / "hmp.sock")
    migemu("-monitor", f"unix:{path},server=on,wait=off")
    first = SocketMonitor(path)
    assert first.read_until(b"(qemu) ") == f"{BANNER}\r\n(qemu) ".encode()
    second = SocketMonitor(path)  # queued: the monitor serves one client at a time
    second.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        second.sock.recv(100)
    first.exchange(b"info name\n")
    first.close()
    assert second.read_until(b"(qemu) ") == f"{BANNER}\r\n(qemu) ".encode()
    assert second.exchange(b"info history\n").endswith(
        b"\r\n0: 'info name'\r\n1: 'info history'\r\n(qemu) "
    )
    second.close()


def test_socket_monitor_synchronous_migrate(
    migemu: Callable[..., Machine], tmp_path: Any
) -> None:
    port = free_tcp_port()
    dest = migemu("-m", "32M", "-incoming", f"tcp:127.0.0.1:{port}")
    path = str(tmp_path / "hmp.sock")
    src = migemu("-m", "32M", "-monitor", f"unix:{path},server=on,wait=off")
    mon = SocketMonitor(path)
    mon.read_until(b"(qemu) ")
    # Both lines in one write: the second waits until the migration has ended.
    out = mon.exchange(f"migrate tcp:127.0.0.1:{port}\ninfo status\n".encode())
    out += mon.read_until(b"(qemu) ", timeout=60) if out.count(b"(qemu) ") < 2 else b""
    assert out.endswith(b"\r\nVM status: paused (postmigrate)\r\n(qemu) ")
    assert src.cmd("query-migrate")["status"] == "completed"
    assert dest.wait_for_status("running", timeout=30)["status"] == "running"
    mon.close()


def test_failed_synchronous_migrate_reports_on_stderr(
    migemu: Callable[..., Machine], tmp_path: Any
) -> None:
    path = str(tmp_path / "hmp.sock")
    port = free_tcp_port()  # nobody listens there
    vm = migemu("-monitor", f"unix:{path},server=on,wait=off")
    mon = SocketMonitor(path)
    mon.read_until(b"(qemu) ")
    out = mon.exchange(f"migrate tcp:127.0.0.1:{port}\n".encode())
    assert out.endswith(f"migrate tcp:127.0.0.1:{port}\x1b[K\r\n(qemu) ".encode())
    status = vm.cmd("query-migrate")
    assert status["status"] == "failed"
    mon.close()
    # hmp_migrate_status_cb(): error_report() outside a command goes to stderr.
    assert f"migemu: {status['error-desc']}\n" in vm.stderr_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["-monitor", "stdio", "-monitor", "stdio"],
         "-monitor stdio: cannot use stdio by multiple character devices"),
        (["-qmp", "stdio", "-monitor", "stdio"],
         "-monitor stdio: cannot use stdio by multiple character devices"),
        (["-monitor", "foo:bar"], "-monitor foo:bar: 'foo:bar' is not a valid char driver"),
        (["-monitor", "stdio", "-daemonize"], "-monitor stdio: cannot use stdio with -daemonize"),
        (["-qmp", "stdio", "-daemonize"], "-qmp stdio: cannot use stdio with -daemonize"),
    ],
)  # fmt: skip
def test_monitor_option_errors(args: List[str], message: str) -> None:
    for binary, prog in ((migemu_binary(), "migemu"), (qemu_binary(), "qemu-system-x86_64")):
        if binary is None or not os.access(binary, os.X_OK):
            continue
        result = subprocess.run(
            [binary, *BASE, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=20
        )
        assert result.returncode == 1
        assert result.stderr.decode().splitlines()[0] == f"{prog}: {message}"


# -- human-monitor-command ------------------------------------------------------------------

# Every command and every error text migemu and QEMU 7.2 share, in a state both can reach.
HMC_LINES: Sequence[str] = (
    "", "   ", "nonsense", "info nosuch", "info status extra", "info/x", "stop/x",
    "info migrate/x", "  stop extra",
    "help stop", "help s", "help ?", "help info status", "help info nosuch", "help nosuch foo",
    "help migrate", "help migrate_set_parameter", "help info migrate", "help calc_dirty_rate",
    'help "info" "status"', 'help "unterminated', "help help", "help cont", "help quit",
    "help migrate_cancel", "help migrate_continue", "help migrate_incoming",
    "help migrate_recover", "help migrate_pause", "help migrate_set_capability",
    "help migrate_start_postcopy", "help info migrate_parameters",
    "info version extra", "info status", "info name", "info uuid", "info history",
    "info migrate", "info migrate_capabilities", "info migrate_parameters", "info dirty_rate",
    "s", "info status", "c", "info status", "stop", "cont",
    "migrate", "migrate -x foo", "migrate -d", "migrate -", "migrate -b -d uri",
    'migrate "unterm', 'migrate "a\\qb"',
    "migrate_set_capability", "migrate_set_capability multifd",
    "migrate_set_capability nosuch on", "migrate_set_capability multifd on extra",
    "migrate_set_capability multifd yes", "migrate_set_capability multifd  on",
    "migrate_set_capability zero-copy-send on", "migrate_set_capability multifd off",
    "migrate_set_capability zero-copy-send off", "info migrate_capabilities",
    "migrate_set_parameter", "migrate_set_parameter foo", "migrate_set_parameter foo 1",
    "migrate_set_parameter compress-level 10", "migrate_set_parameter compress-level 300",
    "migrate_set_parameter compress-level -1", "migrate_set_parameter compress-level abc",
    "migrate_set_parameter compress-level 0x5",
    "migrate_set_parameter compress-level 99999999999999999999999",
    "migrate_set_parameter compress-wait-thread maybe",
    "migrate_set_parameter compress-wait-thread no",
    "migrate_set_parameter max-bandwidth 100", "migrate_set_parameter max-bandwidth 100k",
    "migrate_set_parameter max-bandwidth abc", "migrate_set_parameter max-bandwidth 9E",
    "migrate_set_parameter downtime-limit 1k", "migrate_set_parameter downtime-limit abc",
    "migrate_set_parameter downtime-limit 99999999999999999999",
    "migrate_set_parameter downtime-limit 99999999999999999999k",
    "migrate_set_parameter downtime-limit 16E", "migrate_set_parameter downtime-limit -5",
    "migrate_set_parameter downtime-limit 1.5", "migrate_set_parameter downtime-limit 1.5k",
    "migrate_set_parameter downtime-limit 2001",
    "migrate_set_parameter xbzrle-cache-size 9E", "migrate_set_parameter xbzrle-cache-size 1000",
    "migrate_set_parameter multifd-compression zlib",
    "migrate_set_parameter multifd-compression foo",
    "migrate_set_parameter block-bitmap-mapping x",
    "migrate_set_parameter x-checkpoint-delay 5000000000",
    'migrate_set_parameter tls-creds ""', "migrate_set_parameter tls-hostname host",
    "migrate_set_parameter multifd-channels 0", "migrate_set_parameter multifd-channels 8",
    "migrate_set_parameter announce-rounds 3", "migrate_set_parameter cpu-throttle-initial 0",
    "migrate_set_parameter max-cpu-throttle 100", "migrate_set_parameter cpu-throttle-tailslow on",
    "info migrate_parameters",
    "migrate_continue", "migrate_continue foo", "migrate_continue pre-switchover",
    "migrate_incoming tcp:0:5555", "migrate_recover tcp:0:5555", "migrate_pause",
    "migrate_start_postcopy", "migrate_cancel", "info migrate",
    "calc_dirty_rate", "calc_dirty_rate 0", "calc_dirty_rate $eax", "calc_dirty_rate -r -b 1",
    "calc_dirty_rate (1", "calc_dirty_rate 'a", "calc_dirty_rate 5/0", "calc_dirty_rate foo",
    "calc_dirty_rate 99999999999999999999999", "quit extra", "q extra",
)  # fmt: skip


def test_hmc_commands_and_errors_match_qemu(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        return [[line, vm.hmp(line)] for line in HMC_LINES]

    out = target.check(scenario, "-m", "64M")
    assert ["", ""] in out
    assert ["info status extra",
            'status: extraneous characters at the end of line\r\n'
            'Try "help info status" for more information\r\n'] in out  # fmt: skip


def test_hmc_in_other_states_matches_qemu(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        lines = ["info status", "stop", "info status", "cont", "info status",
                 "migrate_incoming tcp:127.0.0.1:0", "migrate_incoming tcp:127.0.0.1:0",
                 "migrate_set_capability multifd on", "info migrate_capabilities",
                 "migrate tcp:127.0.0.1:1", "migrate_cancel"]  # fmt: skip
        return [[line, vm.hmp(line)] for line in lines]

    out = target.check(scenario, "-incoming", "defer")
    assert out[0] == ["info status", "VM status: paused (inmigrate)\r\n"]

    def prelaunch(vm: Machine) -> List[Any]:
        return [vm.hmp("info status"), vm.hmp("c"), vm.hmp("info status")]

    assert target.check(prelaunch, "-S") == [
        "VM status: paused (prelaunch)\r\n", "", "VM status: running\r\n"
    ]  # fmt: skip


def test_hmc_migrate_cannot_wait_and_continues_detached(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        out = [vm.hmp("migrate exec:cat>/dev/null")]
        answer = vm.wait_migration(timeout=60)
        out.append(answer["status"])
        return out

    assert target.check(scenario, "-m", "32M") == [
        "terminal does not allow synchronous migration, continuing detached\r\n",
        "completed",
    ]


def labels(text: str) -> List[str]:
    """The line names of an `info migrate` answer (values differ between runs)."""
    return [line.split(":")[0] for line in text.split("\r\n") if line]


def test_hmc_info_migrate_during_and_after_a_real_migration(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        vm.hmp("migrate_set_capability pause-before-switchover on")
        vm.hmp("migrate -d exec:cat>/dev/null")
        vm.wait_migration(states=("pre-switchover",), timeout=60)
        paused = vm.hmp("info migrate")
        out = [labels(paused), vm.hmp("migrate_continue active")]
        out.append(vm.hmp("migrate_continue pre-switchover"))
        vm.wait_migration(timeout=60)
        done = vm.hmp("info migrate")
        out += [labels(done), vm.hmp("info status")]
        return out

    paused, wrong, right, done, status = target.check(scenario, "-m", "64M")
    assert paused[7:9] == ["Migration status", "total time"]
    assert wrong == "Error: Migration not in expected state: pre-switchover\r\n"
    assert right == ""
    assert done[7:11] == ["Migration status", "total time", "downtime", "setup"]
    assert status == "VM status: paused (postmigrate)\r\n"


def test_hmc_quit(target: Target) -> None:
    def scenario(vm: Machine) -> List[Any]:
        out: List[Any] = [vm.hmp("quit")]
        vm.qmp.wait_disconnect()
        out.append([(e["event"], e["data"]) for e in vm.qmp.events()])
        out.append(vm.wait())
        return out

    assert target.check(scenario) == [
        "", [("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})], 0
    ]  # fmt: skip


def test_stdio_ctrl_c_ends_the_process_and_restores_the_terminal(tmp_path: Any) -> None:
    with stdio_shell(tmp_path) as term:
        term.expect("(qemu) ")
        term.send("info sta\x03")
        assert term.wait() == 0
        assert term.termios_now()[3] == term.initial_termios[3]
    with open(tmp_path / "stderr.log") as f:
        assert f.read() == "migemu: terminating on signal 2\n"
