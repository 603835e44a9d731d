"""Multifd migrations between real processes: migemu -> migemu with 2/4 channels,
none/zlib/zstd and zero copy, with the synthetic workload dirtying RAM during the migration;
and real QEMU 7.2 -> migemu and migemu -> QEMU. RAM is compared with x-query-ram-digest
(migemu) or the shared memory-backend-file (QEMU)."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable, Dict, List

import pytest
from machine import Machine, free_tcp_port
from migration_util import converge_after_syncs

MachineFactory = Callable[..., Machine]


def caps(vm: Machine, **on: bool) -> None:
    vm.cmd(
        "migrate-set-capabilities",
        capabilities=[{"capability": k.replace("_", "-"), "state": v} for k, v in on.items()],
    )


def multifd_setup(vm: Machine, channels: int, compression: str, zero_copy: bool = False) -> None:
    c: Dict[str, bool] = {"multifd": True}
    if zero_copy:
        c["zero_copy_send"] = True
    caps(vm, **c)
    vm.cmd("migrate-set-parameters", **{"multifd-channels": channels,
                                        "multifd-compression": compression})


def digest(vm: Machine) -> Dict[str, Any]:
    result: Dict[str, Any] = vm.cmd("x-query-ram-digest")
    return result


CASES: List[Any] = [
    pytest.param(2, "none", False, id="2ch-none"),
    pytest.param(4, "none", False, id="4ch-none"),
    pytest.param(2, "zlib", False, id="2ch-zlib"),
    pytest.param(4, "zstd", False, id="4ch-zstd"),
    pytest.param(2, "none", True, id="2ch-none-zerocopy"),
    pytest.param(4, "none", True, id="4ch-none-zerocopy"),
]


@pytest.mark.migemu_qmp
@pytest.mark.parametrize("channels,compression,zero_copy", CASES)
def test_migemu_to_migemu_with_a_running_workload(
    migemu: MachineFactory, channels: int, compression: str, zero_copy: bool
) -> None:
    port = free_tcp_port()
    dst = migemu("-m", "64M", "-S", "-incoming", "defer", name="dst")
    multifd_setup(dst, channels, compression)
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    src = migemu("-m", "64M", "-workload", "dirty-rate=32M/s,seed=7", name="src")
    multifd_setup(src, channels, compression, zero_copy)
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    done = converge_after_syncs(src, syncs=3, timeout=120)
    assert done["status"] == "completed", done
    assert dst.wait_migration(timeout=30)["status"] == "completed"
    ram = done["ram"]
    assert ram["dirty-sync-count"] >= 2, "the dirty bitmap was synced again before completion"
    assert ram["multifd-bytes"] > 0
    if zero_copy:
        # Loopback always copies: every flush that found zero-copy sends reports it.
        assert ram["dirty-sync-missed-zero-copy"] >= 1
    else:
        assert ram["dirty-sync-missed-zero-copy"] == 0
    # The source is stopped (postmigrate) and the destination paused (-S): RAM is stable.
    want = digest(src)
    got = digest(dst)
    assert got["digest"] == want["digest"]
    assert got["bad-pages"] == 0
    assert got["workload-pages"] > 0, "the workload wrote pages during the migration"


@pytest.mark.migemu_qmp
def test_migemu_multifd_compression_mismatch_fails_the_destination_with_qemus_text(
    migemu: MachineFactory,
) -> None:
    port = free_tcp_port()
    dst = migemu("-m", "16M", "-S", "-incoming", "defer", name="dst")
    multifd_setup(dst, 2, "zlib")
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    src = migemu("-m", "16M", "-workload", "dirty-rate=8M/s", name="src")
    multifd_setup(src, 2, "zstd")
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    # Without a return path the source learns nothing of the destination's verdict once it
    # has sent everything (as with QEMU): it ends completed or failed, and keeps serving.
    assert src.wait_migration(timeout=60)["status"] in ("completed", "failed")
    assert src.query_status()["status"] in ("running", "postmigrate")
    assert dst.wait(timeout=30) != 0, "a destination whose load failed exits, as QEMU's does"
    err = dst.stderr_text()
    assert "multifd 0: flags received 4 flags expected 2" in err or \
        "multifd 1: flags received 4 flags expected 2" in err, err
    assert err.count("flags received") == 1, err


def _qemu_ram(tmp: str, name: str, data: bytes) -> str:
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


BASE = ["-nodefaults", "-display", "none"]


def _qemu_args(ram: str) -> List[str]:
    return ["-M", "none,memory-backend=ram0", "-m", "8M", "-object",
            f"memory-backend-file,id=ram0,size=8M,mem-path={ram},share=on"]


QEMU_CASES: List[Any] = [
    pytest.param(2, "none", id="2ch-none"),
    pytest.param(4, "zlib", id="4ch-zlib"),
    pytest.param(2, "zstd", id="2ch-zstd"),
]


@pytest.mark.qemu
@pytest.mark.migemu_qmp
@pytest.mark.parametrize("channels,compression", QEMU_CASES)
def test_qemu_to_migemu(
    qemu: MachineFactory, migemu: MachineFactory, tmp_path: Any, channels: int, compression: str
) -> None:
    image = bytes((i * 7 + i // 4096) & 0xFF for i in range(8 << 20))
    ram = _qemu_ram(str(tmp_path), "src.ram", image)
    port = free_tcp_port()
    # Same machine on both sides: one block "ram0" from a memory-backend-file.
    dst_ram = _qemu_ram(str(tmp_path), "dst.ram", b"\xaa" * (8 << 20))
    dst = migemu(*_qemu_args(dst_ram), "-S", "-incoming", "defer", name="dst", base_args=BASE)
    multifd_setup(dst, channels, compression)
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    src = qemu(*_qemu_args(ram), name="qemu-src", base_args=BASE)
    multifd_setup(src, channels, compression)
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    assert src.wait_migration(timeout=60)["status"] == "completed"
    assert dst.wait_migration(timeout=30)["status"] == "completed"
    assert digest(dst)["digest"] == hashlib.sha256(image).hexdigest()


@pytest.mark.qemu
@pytest.mark.migemu_qmp
@pytest.mark.parametrize("channels,compression", QEMU_CASES)
def test_migemu_to_qemu(
    qemu: MachineFactory, migemu: MachineFactory, tmp_path: Any, channels: int, compression: str
) -> None:
    ram = _qemu_ram(str(tmp_path), "dst.ram", b"\xaa" * (8 << 20))
    port = free_tcp_port()
    dst = qemu(*_qemu_args(ram), "-incoming", "defer", name="qemu-dst", base_args=BASE)
    multifd_setup(dst, channels, compression)
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    src_ram = _qemu_ram(str(tmp_path), "src.ram", b"\0" * (8 << 20))
    src = migemu(*_qemu_args(src_ram), "-workload", "dirty-rate=4M/s,seed=3", name="src",
                 base_args=BASE)
    multifd_setup(src, channels, compression)
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    assert src.wait_migration(timeout=60)["status"] == "completed"
    assert dst.wait_migration(timeout=30)["status"] == "completed"
    want = digest(src)["digest"]
    with open(ram, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == want
