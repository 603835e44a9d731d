"""Launching migemu (or QEMU) for functional tests, in the style of QEMU's python/qemu/machine.

A Machine is one process of ``build/migemu`` or ``qemu-system-x86_64`` with its QMP monitors
on unix sockets in a private temporary directory, stdout and stderr captured to files there,
and a connected, negotiated QMPClient::

    with Machine(args=["-S"]) as vm:                  # default binary: $MIGEMU_BUILD/migemu
        vm.qmp.cmd("cont")
        vm.wait_for_status("running")
    # the process is gone and its directory removed, even if the block raised

    vm = Machine(binary=qemu_binary(), args=["-m", "64M"]).launch()
    ...
    vm.shutdown()                                      # idempotent; always safe to call

The command line is ``BINARY -M none -nodefaults -display none -qmp unix:SOCK,server=on,
wait=off [more -qmp ...] ARGS``, which both binaries accept. Shutdown closes the QMP clients,
sends SIGTERM, waits ``grace`` seconds, then SIGKILLs; the captured output stays readable
(``stderr_text()``) after the directory is gone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(REPO_ROOT, "scripts") not in sys.path:
    sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))

from qmp import QMPClient, QMPClientError  # noqa: E402

QEMU_BINARY_NAME = "qemu-system-x86_64"
BASE_ARGS: Tuple[str, ...] = ("-M", "none", "-nodefaults", "-display", "none")
# query-migrate states after which nothing more happens without a new command.
MIGRATION_TERMINAL_STATES: Tuple[str, ...] = ("completed", "failed", "cancelled")

_live_machines: "weakref.WeakSet[Machine]" = weakref.WeakSet()


class MachineError(Exception):
    """The process could not be launched, died, or did not reach an expected state."""


def migemu_build_dir() -> str:
    """$MIGEMU_BUILD, or build/ in the repository."""
    return os.environ.get("MIGEMU_BUILD") or os.path.join(REPO_ROOT, "build")


def migemu_binary() -> str:
    """The migemu executable under test: $MIGEMU_BUILD/migemu."""
    return os.path.join(migemu_build_dir(), "migemu")


def qemu_binary() -> Optional[str]:
    """The real QEMU ($QEMU_BINARY, else qemu-system-x86_64 on PATH), or None."""
    explicit = os.environ.get("QEMU_BINARY")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which(QEMU_BINARY_NAME)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bound then released; another process could
    still take it before the caller binds it, so use it right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _kill_leftovers() -> None:
    # Last line of defence (e.g. Ctrl-C in the middle of a test): no orphan processes.
    for machine in list(_live_machines):
        machine.shutdown(grace=1.0)


atexit.register(_kill_leftovers)


class Machine:
    """One migemu/QEMU process with QMP monitors on unix sockets.

    Arguments:
        binary: the executable (default: $MIGEMU_BUILD/migemu).
        args: extra command-line arguments, after the base arguments and the -qmp options.
        name: used in the temporary directory name and in messages.
        qmp_sockets: how many ``-qmp unix:`` monitors to create (0 for none); monitor 0 gets
            the client ``qmp``. QEMU serves one client per socket, so two simultaneous
            clients need two sockets.
        negotiate: whether ``qmp`` runs qmp_capabilities.
        base_args: replaces ``-M none -nodefaults -display none``.
        timeout: default QMP read timeout in seconds.
        launch_timeout: how long to wait for monitor 0 to accept connections.
        env: extra environment variables.

    Not thread-safe. Every method that talks to the process raises MachineError when it has
    not been launched or has exited, and the qmp package's errors when QMP fails.
    """

    def __init__(
        self,
        binary: Optional[str] = None,
        args: Sequence[str] = (),
        *,
        name: str = "vm",
        qmp_sockets: int = 1,
        negotiate: bool = True,
        base_args: Sequence[str] = BASE_ARGS,
        timeout: float = 10.0,
        launch_timeout: float = 10.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.binary = binary or migemu_binary()
        self.args = list(args)
        self.name = name
        self.qmp_sockets = qmp_sockets
        self.negotiate = negotiate
        self.base_args = list(base_args)
        self.timeout = timeout
        self.launch_timeout = launch_timeout
        self.env = dict(env or {})
        self.tmpdir: Optional[str] = None
        self.argv: List[str] = []  # the command line, once launched
        self._process: Optional["subprocess.Popen[bytes]"] = None
        self._qmp: Optional[QMPClient] = None
        self._clients: List[QMPClient] = []
        self._stdout_text: Optional[str] = None
        self._stderr_text: Optional[str] = None
        self._exitcode: Optional[int] = None

    # -- lifecycle ------------------------------------------------------------------------

    def command_line(self) -> List[str]:
        """The full argv the process is (or will be) started with."""
        if self.tmpdir is None:
            raise MachineError(f"{self.name}: not launched")
        argv = [self.binary, *self.base_args]
        for i in range(self.qmp_sockets):
            argv += ["-qmp", f"unix:{self.qmp_path(i)},server=on,wait=off"]
        return argv + self.args

    def launch(self) -> "Machine":
        """Starts the process and, when it has monitors, connects ``qmp`` to monitor 0.

        Raises MachineError (with the exit code and stderr) when the process exits or its
        monitor does not answer within ``launch_timeout``; the process is then cleaned up."""
        if self._process is not None:
            raise MachineError(f"{self.name}: already launched")
        if not os.access(self.binary, os.X_OK):
            raise MachineError(f"{self.name}: {self.binary} is not an executable")
        # A short path: unix socket paths are limited to 107 bytes.
        self.tmpdir = tempfile.mkdtemp(prefix=f"migemu-{self.name}-")
        stdout = open(self.log_path("stdout"), "wb")
        stderr = open(self.log_path("stderr"), "wb")
        try:
            self.argv = self.command_line()
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=self.tmpdir,
                env={**os.environ, **self.env},
                start_new_session=True,  # terminal signals go to pytest only
            )
        except OSError as e:
            self.shutdown()
            raise MachineError(f"{self.name}: cannot start {self.binary}: {e}") from e
        finally:
            stdout.close()
            stderr.close()
        _live_machines.add(self)
        if self.qmp_sockets > 0:
            try:
                self._qmp = self.connect(0, negotiate=self.negotiate)
                if self.negotiate:
                    self._settle(self._qmp)
            except QMPClientError as e:
                code = self._process.poll()
                state = f"exited with code {code}" if code is not None else "is running"
                where = self.qmp_path(0)
                self.shutdown()
                raise MachineError(
                    f"{self.name}: QMP on {where} failed ({e}); the process {state}; "
                    f"stderr: {self.stderr_text().strip()!r}"
                ) from e
        return self

    @staticmethod
    def _settle(client: QMPClient) -> None:
        """QEMU 7.2 may complete qmp_capabilities before it has started the guest, and then
        delivers the RESUME of its start to that client (seen once in 22 runs of
        test_qmp_protocol.py on a busy machine); a client that negotiated later never sees
        it. A round trip makes such an event arrive, and it is dropped: every launch starts from the same
        point, with no events queued."""
        client.cmd("query-status")
        client.clear_events()

    def connect(self, index: int = 0, negotiate: bool = True) -> QMPClient:
        """Opens another QMP client on monitor ``index``; it is closed at shutdown."""
        process = self._running_process()
        client = QMPClient(
            self.qmp_path(index),
            timeout=self.timeout,
            connect_timeout=self.launch_timeout,
            negotiate=negotiate,
            alive=lambda: process.poll() is None,
        )
        self._clients.append(client)
        return client

    def shutdown(self, grace: float = 5.0) -> Optional[int]:
        """Stops the process (SIGTERM, then SIGKILL after ``grace`` seconds), closes every
        QMP client, keeps the captured output in memory and removes the temporary directory.
        Idempotent. Returns the exit code (negative: killed by that signal)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._qmp = None
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            self._exitcode = process.returncode
        _live_machines.discard(self)
        if self.tmpdir is not None:
            self._stdout_text = self._read_log("stdout")
            self._stderr_text = self._read_log("stderr")
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        return self._exitcode

    def wait(self, timeout: float = 10.0) -> int:
        """Waits for the process to exit by itself (e.g. after ``quit``); returns its exit
        code. Raises MachineError when it is still running after ``timeout`` seconds."""
        process = self._launched_process()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise MachineError(f"{self.name}: still running after {timeout:g} s") from e
        self._exitcode = code
        return code

    def __enter__(self) -> "Machine":
        if self._process is None:
            self.launch()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.shutdown()

    # -- state ----------------------------------------------------------------------------

    @property
    def qmp(self) -> QMPClient:
        """The negotiated client on monitor 0."""
        if self._qmp is None:
            raise MachineError(f"{self.name}: no QMP connection (not launched, or shut down)")
        return self._qmp

    @property
    def pid(self) -> int:
        return self._launched_process().pid

    @property
    def exitcode(self) -> Optional[int]:
        """The exit code once the process has exited (negative: killed by that signal),
        else None."""
        if self._process is not None and self._exitcode is None:
            self._exitcode = self._process.poll()
        return self._exitcode

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def qmp_path(self, index: int = 0) -> str:
        """The unix socket of monitor ``index``."""
        if self.tmpdir is None:
            raise MachineError(f"{self.name}: not launched")
        if not 0 <= index < self.qmp_sockets:
            raise MachineError(f"{self.name}: no QMP monitor {index} ({self.qmp_sockets} exist)")
        return os.path.join(self.tmpdir, f"qmp{index}.sock")

    def log_path(self, stream: str) -> str:
        if self.tmpdir is None:
            raise MachineError(f"{self.name}: not launched")
        return os.path.join(self.tmpdir, f"{stream}.log")

    def stdout_text(self) -> str:
        """What the process wrote to stdout so far (or in all, after shutdown)."""
        if self.tmpdir is None:
            return self._stdout_text or ""
        return self._read_log("stdout")

    def stderr_text(self) -> str:
        """What the process wrote to stderr so far (or in all, after shutdown)."""
        if self.tmpdir is None:
            return self._stderr_text or ""
        return self._read_log("stderr")

    def _read_log(self, stream: str) -> str:
        if self.tmpdir is None:
            return ""
        try:
            with open(self.log_path(stream), "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _launched_process(self) -> "subprocess.Popen[bytes]":
        if self._process is None:
            raise MachineError(f"{self.name}: not launched")
        return self._process

    def _running_process(self) -> "subprocess.Popen[bytes]":
        process = self._launched_process()
        if process.poll() is not None:
            raise MachineError(
                f"{self.name}: exited with code {process.returncode}; "
                f"stderr: {self.stderr_text().strip()!r}"
            )
        return process

    # -- QMP helpers ----------------------------------------------------------------------

    def cmd(
        self, name: str, arguments: Optional[Mapping[str, Any]] = None, /, **kwargs: Any
    ) -> Any:
        """``self.qmp.cmd(...)``: the command's return value; raises QMPError."""
        return self.qmp.cmd(name, arguments, **kwargs)

    def hmp(self, command_line: str) -> str:
        """Runs an HMP command through human-monitor-command and returns its output."""
        return self.qmp.hmp(command_line)

    def query_status(self) -> Dict[str, Any]:
        result: Dict[str, Any] = self.qmp.cmd("query-status")
        return result

    def wait_for_status(self, status: str, timeout: float = 10.0) -> Dict[str, Any]:
        """Polls query-status until its ``status`` is ``status``; returns the answer.
        Raises MachineError with the last answer on timeout."""
        end = time.monotonic() + timeout
        while True:
            answer = self.query_status()
            if answer.get("status") == status:
                return answer
            if time.monotonic() >= end:
                raise MachineError(
                    f"{self.name}: status is still {answer.get('status')!r} after "
                    f"{timeout:g} s, expected {status!r}"
                )
            time.sleep(0.02)

    def query_migrate(self) -> Dict[str, Any]:
        result: Dict[str, Any] = self.qmp.cmd("query-migrate")
        return result

    def wait_migration(
        self, states: Sequence[str] = MIGRATION_TERMINAL_STATES, timeout: float = 60.0
    ) -> Dict[str, Any]:
        """Polls query-migrate until its ``status`` is one of ``states``; returns the answer.
        Raises MachineError with the last answer on timeout."""
        end = time.monotonic() + timeout
        while True:
            answer = self.query_migrate()
            if answer.get("status") in states:
                return answer
            if time.monotonic() >= end:
                raise MachineError(
                    f"{self.name}: migration status {answer.get('status')!r} after "
                    f"{timeout:g} s, waiting for one of {list(states)}: {answer}"
                )
            time.sleep(0.05)


def probe_qmp(binary: str, wait: float = 2.0) -> Tuple[bool, str]:
    """Launches ``binary`` once with a QMP monitor and reports whether the socket appears
    within ``wait`` seconds: (True, "") or (False, the reason)."""
    if not os.access(binary, os.X_OK):
        return False, f"{binary} does not exist (build it: ninja -C build)"
    tmpdir = tempfile.mkdtemp(prefix="migemu-probe-")
    sock = os.path.join(tmpdir, "qmp.sock")
    try:
        with open(os.path.join(tmpdir, "stderr.log"), "wb") as err:
            process = subprocess.Popen(
                [binary, *BASE_ARGS, "-qmp", f"unix:{sock},server=on,wait=off"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        try:
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if os.path.exists(sock):
                    return True, ""
                if process.poll() is not None:
                    break
                time.sleep(0.02)
            if os.path.exists(sock):
                return True, ""
            code = process.poll()
            how = f"exited with code {code}" if code is not None else f"ran {wait:g} s"
            with open(os.path.join(tmpdir, "stderr.log"), "rb") as f:
                stderr = f.read().decode("utf-8", errors="replace").strip()
            detail = f"; stderr: {stderr!r}" if stderr else ""
            return False, (
                f"{binary} does not serve QMP yet: it {how} without creating its -qmp "
                f"socket{detail}"
            )
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
