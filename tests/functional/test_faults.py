"""The fault walk: every fault point the binary declares (x-query-fault-points) is made to fail
once, on the side of the migration that reaches it, and the outcome must be one of the two the
design allows (docs/reliability.md):

* the source ends `failed` or `cancelled` with a non-empty `error-desc`, its guest still runs,
  its RAM is what it was (digest before == after), and a second migration to a fresh
  destination completes with equal digests;
* the destination never takes a partial state silently: it fails and exits with QEMU's
  "load of migration failed" line, or it completes with RAM equal to the source's, or nothing
  reached it and it still waits, RAM untouched.

Every case proves its point was reached: the source's x-query-fault-points hit count, or the
"fault point ... triggered" line a destination prints before it exits.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from machine import Machine
from migration_util import digest, random_ram_args, ram_backend_args, set_caps, tcp_uri

MachineFactory = Callable[..., Machine]

RAM_MIB = 8

# point -> (side, capabilities on both ends). Cases with an "after" variant reach the point
# later in the stream (the Nth write or read), not only at its first hit.
POINTS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "migration.send.connect": ("source", ()),
    "migration.send.setup": ("source", ()),
    "migration.send.write": ("source", ()),
    "migration.send.short-write": ("source", ()),
    "migration.send.flush": ("source", ()),
    "migration.send.iterate": ("source", ()),
    "migration.send.complete": ("source", ()),
    "migration.send.return-path": ("source", ("return-path",)),
    "migration.send.tls-handshake": ("source", ("tls",)),
    "multifd.send.connect": ("source", ("multifd",)),
    "multifd.send.connected": ("source", ("multifd",)),
    "multifd.send.init": ("source", ("multifd",)),
    "multifd.send.packet": ("source", ("multifd",)),
    "multifd.send.sync": ("source", ("multifd",)),
    "multifd.send.flush": ("source", ("multifd", "zero-copy-send")),
    "migration.recv.accept": ("destination", ()),
    "migration.recv.tls-handshake": ("destination", ("tls",)),
    "migration.recv.read": ("destination", ("return-path",)),
    "migration.recv.load": ("destination", ("return-path",)),
    "migration.recv.complete": ("destination", ("return-path",)),
    "migration.recv.return-path": ("destination", ("return-path",)),
    "multifd.recv.init": ("destination", ("multifd", "return-path")),
    "multifd.recv.packet": ("destination", ("multifd", "return-path")),
    "multifd.recv.sync": ("destination", ("multifd", "return-path")),
}

CASES: List[Any] = [pytest.param(p, 0, None, id=p) for p in POINTS] + [
    pytest.param("migration.send.write", 5, None, id="migration.send.write-after-5"),
    pytest.param("migration.send.short-write", 3, None, id="migration.send.short-write-after-3"),
    pytest.param("migration.send.flush", 1, None, id="migration.send.flush-after-1"),
    pytest.param("migration.recv.read", 40, None, id="migration.recv.read-after-40"),
    # The second return-path message is the SHUT after a complete load: the destination has
    # taken the state, the source cannot know it and fails (QEMU's precopy has the same limit).
    pytest.param("migration.recv.return-path", 1, None, id="migration.recv.return-path-after-1"),
    pytest.param("multifd.send.packet", 3, None, id="multifd.send.packet-after-3"),
    pytest.param("multifd.recv.packet", 3, None, id="multifd.recv.packet-after-3"),
    # TLS over multifd: the second handshake is the first multifd channel's (main first).
    pytest.param("migration.send.tls-handshake", 1, ("tls", "multifd"),
                 id="migration.send.tls-handshake-multifd"),
    pytest.param("migration.recv.tls-handshake", 1, ("tls", "multifd", "return-path"),
                 id="migration.recv.tls-handshake-multifd"),
]

# TLS cases use PSK credentials (made once per session: no certificates needed).
_PSK_DIR: Optional[str] = None


def psk_dir() -> str:
    global _PSK_DIR
    if _PSK_DIR is None:
        _PSK_DIR = tempfile.mkdtemp(prefix="migemu-faults-psk-")
        with open(os.path.join(_PSK_DIR, "keys.psk"), "w") as f:
            f.write("qemu:0123456789abcdef0123456789abcdef\n")
    return _PSK_DIR


def setup_caps(vm: Machine, caps: Tuple[str, ...], endpoint: str = "client") -> None:
    if "tls" in caps:
        vm.cmd("object-add", {"qom-type": "tls-creds-psk", "id": "tls0", "dir": psk_dir(),
                              "endpoint": endpoint})
        vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
        caps = tuple(c for c in caps if c != "tls")
    if caps:
        set_caps(vm, **{c.replace("-", "_"): True for c in caps})
    if "multifd" in caps:
        vm.cmd("migrate-set-parameters", {"multifd-channels": 2})


def destination(migemu: MachineFactory, caps: Tuple[str, ...], name: str,
                fault: Optional[Dict[str, Any]] = None) -> Tuple[Machine, str]:
    dst = migemu(*ram_backend_args(RAM_MIB), "-incoming", "defer", name=name)
    setup_caps(dst, caps, "server")
    if fault is not None:
        dst.cmd("x-inject-fault", fault)
    uri = tcp_uri()
    dst.cmd("migrate-incoming", uri=uri)
    return dst, uri


def wait_exit_or_settle(vm: Machine, timeout: float = 20.0) -> Optional[int]:
    """The exit code once the process exited, or None when it is still alive and its incoming
    migration has reached a final state or still waits for a connection (a listening
    destination has no `status` in query-migrate, as in QEMU)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not vm.is_running():
            return vm.wait(timeout=5)
        try:
            status = vm.query_migrate().get("status")
        except Exception:  # the process is going away between the two checks
            continue
        if status in ("completed", "failed", None):
            time.sleep(0.2)  # a waiting destination gets a moment to take a connection
            if not vm.is_running():
                return vm.wait(timeout=5)
            if vm.query_migrate().get("status") == status:
                return None
        time.sleep(0.05)
    raise AssertionError(f"{vm.name}: neither exited nor settled within {timeout} s")


def test_the_walk_covers_every_declared_point(migemu: MachineFactory) -> None:
    vm = migemu("-m", "8M")
    declared = {p["name"]: p["side"] for p in vm.cmd("x-query-fault-points")}
    assert declared == {name: side for name, (side, _) in POINTS.items()}


def test_inject_fault_refuses_unknown_points_and_counts_hits(migemu: MachineFactory) -> None:
    vm = migemu("-m", "8M")
    with pytest.raises(Exception, match="Parameter 'point' expects a fault point name"):
        vm.cmd("x-inject-fault", point="migration.send.conect")
    vm.cmd("x-inject-fault", point="migration.send.connect", after=1)
    points = {p["name"]: p for p in vm.cmd("x-query-fault-points")}
    assert points["migration.send.connect"]["armed"] is True
    assert points["migration.send.setup"]["armed"] is False
    vm.cmd("x-clear-faults")
    points = {p["name"]: p for p in vm.cmd("x-query-fault-points")}
    assert not any(p["armed"] for p in points.values())


@pytest.mark.parametrize("point,after,caps_override", CASES)
def test_fault_walk(migemu: MachineFactory, tmp_path: Any, point: str, after: int,
                    caps_override: Optional[Tuple[str, ...]]) -> None:
    side, caps = POINTS[point]
    caps = caps_override or caps
    fault = {"point": point, "after": after}
    src = migemu(*random_ram_args(str(tmp_path), RAM_MIB), name="src")
    setup_caps(src, caps)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 30})
    before = digest(src)
    dst_before = None

    if side == "source":
        src.cmd("x-inject-fault", fault)
        dst, uri = destination(migemu, caps, "dst")
    else:
        dst, uri = destination(migemu, caps, "dst", fault)
    dst_before = digest(dst)

    src.cmd("migrate", uri=uri)
    info = src.wait_migration(timeout=60)

    # The source: failed with a reason, guest running, RAM intact.
    assert info["status"] in ("failed", "cancelled"), info
    assert info.get("error-desc"), info
    if side == "source":
        assert point in info["error-desc"], info
        hits = {p["name"]: p["hits"] for p in src.cmd("x-query-fault-points")}
        assert hits[point] > after
    assert src.query_status()["status"] == "running"
    assert digest(src) == before

    # The destination: failed and exited, completed with the source's RAM, or untouched.
    code = wait_exit_or_settle(dst)
    if code is not None:
        assert code == 1, code
        assert "load of migration failed" in dst.stderr_text()
    else:
        status = dst.query_migrate().get("status")
        if status == "completed":
            dst.cmd("stop")
            assert digest(dst) == before
        else:
            assert status is None, status  # still listening: nothing was loaded
            assert digest(dst) == dst_before
    if side == "destination":
        if code is not None or dst.query_migrate().get("status") != "completed":
            assert f"fault point {point} triggered" in dst.stderr_text()
        else:
            assert dst.cmd("x-query-fault-points") and any(
                p["name"] == point and p["hits"] > after for p in dst.cmd("x-query-fault-points"))
    dst.shutdown()

    # The source is still usable: a fresh destination takes a complete, equal copy.
    src.cmd("x-clear-faults")
    dst2, uri2 = destination(migemu, caps, "dst2")
    src.cmd("migrate", uri=uri2)
    assert src.wait_migration(timeout=60)["status"] == "completed"
    assert dst2.wait_migration(("completed",), timeout=30)["status"] == "completed"
    dst2.cmd("stop")
    assert digest(dst2) == before
    assert digest(src) == before
