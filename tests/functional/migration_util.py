"""Helpers shared by the migration functional tests: RAM images, addresses, digests."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from typing import Any, Dict, List

from machine import MIGRATION_TERMINAL_STATES, Machine, free_tcp_port

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "data", "qemu-7.2")
PATTERN_SHA256 = "0e4be570037a2ec847b8e538509c2bcc488af0f7fd0c8b849031aa87106cebc3"


def write_pattern(path: str) -> None:
    """The 8 MiB RAM image every QEMU capture was made from (README in tests/data)."""
    with gzip.open(os.path.join(TESTDATA, "ram-pattern-8M.img.gz"), "rb") as src:
        data = src.read()
    with open(path, "wb") as f:
        f.write(data)


def write_zeros(path: str, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


def random_ram_args(directory: str, size_mib: int, seed: int = 1) -> List[str]:
    """Guest RAM prefilled with pseudo-random bytes (so pages are neither zero nor compressible),
    as a private mapping of a file: the process owns a copy, the file stays untouched."""
    path = os.path.join(directory, f"random-{size_mib}M-{seed}.img")
    if not os.path.exists(path):
        block = hashlib.sha512(str(seed).encode()).digest() * 16384  # 1 MiB
        with open(path, "wb") as f:
            for i in range(size_mib):
                f.write(bytes(b ^ (i & 0xFF) for b in block[:64]) + block[64:])
    return ["-M", "none,memory-backend=ram0",
            "-object", f"memory-backend-file,id=ram0,size={size_mib}M,mem-path={path},share=off"]


def ram_backend_args(size_mib: int, backend: str = "ram0") -> List[str]:
    """Fresh anonymous guest RAM in a block named like random_ram_args()'s."""
    return ["-M", f"none,memory-backend={backend}",
            "-object", f"memory-backend-ram,id={backend},size={size_mib}M"]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_backend_args(path: str, size: str = "8M", backend: str = "ram0") -> List[str]:
    """Machine `none` with its RAM in a shared file, as the captures were made."""
    return [
        "-M", f"none,memory-backend={backend}",
        "-object", f"memory-backend-file,id={backend},size={size},mem-path={path},share=on",
    ]


def tcp_uri() -> str:
    return f"tcp:127.0.0.1:{free_tcp_port()}"


def set_caps(vm: Machine, **caps: bool) -> None:
    vm.cmd("migrate-set-capabilities", {
        "capabilities": [{"capability": k.replace("_", "-"), "state": v} for k, v in caps.items()]
    })


def wait_both(src: Machine, dst: Machine, timeout: float = 60.0) -> Dict[str, Any]:
    """Source reaches a terminal state; for `completed`, the destination completes too."""
    info = src.wait_migration(timeout=timeout)
    if info["status"] == "completed":
        dst.wait_migration(("completed",), timeout=timeout)
    return info


def converge_after_syncs(src: Machine, syncs: int = 3, timeout: float = 120.0) -> Dict[str, Any]:
    """Waits for a migration racing a workload to end, as QEMU's migration-test does: once the
    source has synced its dirty bitmap ``syncs`` times (the workload has dirtied pages the
    migration had to send again), the downtime limit is raised so that the next pass converges
    however slow the machine (sanitizer builds, a busy CI host) moves the bytes. Returns the
    source's final query-migrate."""
    end = time.monotonic() + timeout
    raised = False
    while True:
        info = src.query_migrate()
        status = info.get("status")
        if status in MIGRATION_TERMINAL_STATES:
            return info
        if not raised and info.get("ram", {}).get("dirty-sync-count", 0) >= syncs:
            src.cmd("migrate-set-parameters", {"downtime-limit": 60000})
            raised = True
        if time.monotonic() > end:
            raise AssertionError(f"{src.name}: migration still {status} after {timeout} s: {info}")
        time.sleep(0.05)


def wait_status(vm: Machine, states: List[str], timeout: float = 30.0) -> Dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        info = vm.query_migrate()
        if info.get("status") in states:
            return info
        if time.monotonic() > end:
            raise AssertionError(f"{vm.name}: status {info.get('status')} not in {states}")
        time.sleep(0.02)


def wait_file_stable(path: str, quiet: float = 0.2, timeout: float = 10.0) -> None:
    """QEMU reports `completed` for `exec:cat > FILE` before the command has exited (it closes
    the command in cleanup); wait until the file stops growing."""
    end = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < end:
        size = os.path.getsize(path) if os.path.exists(path) else -1
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} still changing after {timeout} s")


def digest(vm: Machine) -> str:
    result: str = vm.cmd("x-query-ram-digest")["digest"]
    return result
