"""Real clients work unchanged: QEMU 7.2's own Python QMP library (python/qemu/qmp, from the
QEMU source tree) drives the target through ``legacy.QEMUMonitorProtocol``, the asyncio
``QMPClient`` and the ``qmp-shell`` program.

The library is taken from $QEMU_PYTHON_DIR, by default /tmp/qsrc/qemu-7.2+dfsg/python
(``apt-get source qemu`` unpacks it); ``./scripts/check`` sets it, fetching python/ from the
installed QEMU's Debian source package (``ensure_qemu_python``); the tests skip when it is
absent. QEMU's HMP mode of
qmp-shell is not exercised: it always passes ``cpu-index: 0``, which machine ``none`` (no
CPUs) refuses, so it fails against QEMU itself.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from types import ModuleType
from typing import Any, Dict, Iterator, List

import pytest
from conftest import Target
from machine import Machine

DEFAULT_QEMU_PYTHON_DIR = "/tmp/qsrc/qemu-7.2+dfsg/python"
RUNNING = {"status": "running", "singlestep": False, "running": True}


def qemu_python_dir() -> str:
    return os.environ.get("QEMU_PYTHON_DIR") or DEFAULT_QEMU_PYTHON_DIR


@pytest.fixture(scope="module")
def qemu_qmp() -> Iterator[Dict[str, ModuleType]]:
    """QEMU's qemu.qmp package and its legacy module, imported from the source tree."""
    directory = qemu_python_dir()
    if not os.path.isfile(os.path.join(directory, "qemu", "qmp", "legacy.py")):
        pytest.skip(f"QEMU's Python QMP library is not at {directory} (set QEMU_PYTHON_DIR)")
    sys.path.insert(0, directory)
    try:
        modules = {
            "qmp": importlib.import_module("qemu.qmp"),
            "legacy": importlib.import_module("qemu.qmp.legacy"),
        }
    finally:
        sys.path.remove(directory)
    yield modules


@pytest.fixture
def event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    # The legacy class picks up the current event loop: give it a fresh one per test.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_legacy_qemu_monitor_protocol(
    target: Target, qemu_qmp: Dict[str, ModuleType], event_loop: asyncio.AbstractEventLoop
) -> None:
    legacy = qemu_qmp["legacy"]
    execute_error = qemu_qmp["qmp"].ExecuteError

    def scenario(vm: Machine) -> List[Any]:
        out: List[Any] = []
        monitor = legacy.QEMUMonitorProtocol(vm.qmp_path(1))
        try:
            out.append(monitor.connect())  # the greeting, after negotiation
            monitor.settimeout(10.0)
            out.append(monitor.cmd("query-status"))
            out.append(monitor.cmd("query-status", cmd_id="legacy-1"))
            out.append(monitor.cmd("query-status", args={"x": 1}))
            out.append(monitor.cmd_obj({"execute": "no-such-command", "id": "legacy-2"}))
            out.append(monitor.command("query-status"))  # ids assigned and checked by the library
            with pytest.raises(execute_error) as e:
                monitor.command("stop", x=1)
            out.append([e.value.error_class, str(e.value)])
            out.append(monitor.command("stop"))
            stop = monitor.pull_event(wait=10.0)
            out.append(stop)
            out.append(monitor.command("human-monitor-command", **{"command-line": "info status"}))
            monitor.command("cont")
            out.append([e["event"] for e in monitor.get_events(wait=10.0)])
            monitor.clear_events()
            out.append(monitor.get_events())
        finally:
            monitor.close()
        # The machine still serves the harness's own client.
        out.append(vm.qmp.cmd("query-status"))
        return out

    out = target.check(scenario, qmp_sockets=2)
    assert list(out[0]) == ["QMP"]
    assert out[1:7] == [
        {"return": RUNNING},
        {"return": RUNNING, "id": "legacy-1"},
        {"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}},
        {
            "id": "legacy-2",
            "error": {
                "class": "CommandNotFound",
                "desc": "The command no-such-command has not been found",
            },
        },
        RUNNING,
        ["GenericError", "Parameter 'x' is unexpected"],
    ]
    assert out[7] == {}
    assert out[8]["event"] == "STOP"
    assert out[9:] == ["VM status: paused\r\n", ["RESUME"], [], RUNNING]


def test_asyncio_qmp_client(target: Target, qemu_qmp: Dict[str, ModuleType]) -> None:
    qmp = qemu_qmp["qmp"]

    def scenario(vm: Machine) -> List[Any]:
        async def session() -> List[Any]:
            client = qmp.QMPClient("migemu-test")
            out: List[Any] = []
            await client.connect(vm.qmp_path(1))
            try:
                out.append(client.greeting._asdict())
                with client.listener() as listener:
                    out.append(await client.execute("stop"))
                    event = await asyncio.wait_for(listener.get(), 10)
                    out.append(event["event"])
                out.append(await client.execute("query-status"))
                try:
                    await client.execute("no-such-command")
                except qmp.ExecuteError as e:
                    out.append([e.error_class, str(e)])
            finally:
                await client.disconnect()
            return out

        return asyncio.run(session())

    out = target.check(scenario, qmp_sockets=2)
    assert list(out[0]) == ["QMP"]
    assert out[1:] == [
        {},
        "STOP",
        {"status": "paused", "singlestep": False, "running": False},
        ["CommandNotFound", "The command no-such-command has not been found"],
    ]


def test_qemu_qmp_shell(target: Target, qemu_qmp: Dict[str, ModuleType], tmp_path: Any) -> None:
    session = "query-status\nstop\nquery-status foo=1\nquery-migrate\nbad syntax\n"

    def scenario(vm: Machine) -> List[Any]:
        result = subprocess.run(
            [sys.executable, "-m", "qemu.qmp.qmp_shell", "-p", vm.qmp_path(1)],
            input=session,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": qemu_python_dir(), "HOME": str(tmp_path)},
        )
        assert result.returncode == 0, result.stderr
        # Pretty-printed JSON documents follow the "(QEMU) " prompts.
        chunks = result.stdout.split("(QEMU) ")
        banner = chunks[0]
        return [banner.splitlines()[0], [json.loads(c) for c in chunks[1:] if c.strip()],
                result.stderr]  # fmt: skip

    banner, responses, stderr = target.check(scenario, qmp_sockets=2)
    assert banner == "Welcome to the QMP low-level shell!"
    assert responses == [
        {"return": RUNNING},
        {"return": {}},
        {"error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}},
        {"return": {}},
    ]
    assert stderr.startswith("Error while parsing command line: Expected a key=value pair")
