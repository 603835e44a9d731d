"""calc-dirty-rate / query-dirty-rate (QEMU's migration/dirtyrate.c) on the emulated guest."""

from __future__ import annotations

import time

import pytest

from machine import Machine

pytestmark = pytest.mark.migemu_qmp


def refusals(vm: Machine):
    calls = [
        {"calc-time": 0},
        {"calc-time": 61},
        {"calc-time": 1, "sample-pages": 127},
        {"calc-time": 1, "sample-pages": 16385},
        {"calc-time": 1, "mode": "bogus"},
    ]
    out = [vm.qmp.cmd_raw({"execute": "query-dirty-rate"})]
    for args in calls:
        out.append(vm.qmp.cmd_raw({"execute": "calc-dirty-rate", "arguments": args}))
    return out


def test_refusals_match_qemu(target):
    out = target.check(refusals, "-m", "256M")
    assert out[1]["error"]["desc"] == "calc-time is out of range[1, 60]."


def test_dirty_ring_is_refused(migemu):
    # QEMU 7.2 under TCG crashes here (kvm_dirty_ring_enabled() without KVM); migemu answers
    # as a host without a KVM dirty ring: with the text QEMU uses when the ring is off.
    vm = migemu("-m", "256M")
    with pytest.raises(Exception, match="mode dirty-ring is not enabled, use other method instead."):
        vm.cmd("calc-dirty-rate", {"calc-time": 1, "mode": "dirty-ring"})
    with pytest.raises(Exception, match="either sample-pages or dirty-ring can be specified."):
        vm.cmd("calc-dirty-rate", {"calc-time": 1, "mode": "dirty-ring", "sample-pages": 512})


@pytest.mark.parametrize("mode", ["page-sampling", "dirty-bitmap"])
def test_measures_the_workload(migemu, mode):
    vm = migemu("-m", "256M", "-workload", "dirty-rate=64M/s,pattern=random")
    vm.cmd("calc-dirty-rate", {"calc-time": 1, "mode": mode})
    with pytest.raises(Exception, match="the dirty rate is already being measured."):
        vm.cmd("calc-dirty-rate", {"calc-time": 1})
    assert vm.cmd("query-dirty-rate")["status"] == "measuring"
    end = time.monotonic() + 10
    while (info := vm.cmd("query-dirty-rate"))["status"] != "measured":
        assert time.monotonic() < end
        time.sleep(0.1)
    assert info["mode"] == mode and info["calc-time"] == 1
    # 64 MiB/s of random pages over 256 MiB: tens of MB/s, never more than the written rate.
    assert 5 <= info["dirty-rate"] <= 80, info
    if mode == "page-sampling":
        assert info["sample-pages"] == 512
    else:
        assert info["sample-pages"] == 0


def test_idle_guest_measures_zero(migemu):
    vm = migemu("-m", "256M")
    vm.cmd("calc-dirty-rate", {"calc-time": 1})
    end = time.monotonic() + 10
    while (info := vm.cmd("query-dirty-rate"))["status"] != "measured":
        assert time.monotonic() < end
        time.sleep(0.1)
    assert info["dirty-rate"] == 0
