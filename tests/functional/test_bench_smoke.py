"""The end-to-end benchmark's smoke preset (`scripts/bench --smoke`): 64 MiB migrations,
migemu -> migemu (zero copy, and with the workload) and QEMU -> QEMU when it is installed. The
benchmark itself stays out of the test suite; this checks that it runs, verifies every run and
writes results of the documented shape. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from machine import migemu_build_dir, qemu_binary

pytestmark = [pytest.mark.migemu_qmp]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "tests", "bench", "e2e", "bench.py")


def _positive(summary: dict) -> bool:
    return summary is not None and summary["median"] > 0 and summary["min"] <= summary["max"]


def test_smoke_preset(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, BENCH, "--smoke", "--out", str(out), "--build",
                        migemu_build_dir()], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout
    results = json.loads((out / "results.json").read_text())

    machine = results["meta"]["machine"]
    assert machine["nproc"] >= 1 and machine["cpu_model"] and machine["kernel"]
    limits = results["limits"]
    assert [t["streams"] for t in limits["loopback_tcp"]] == [1, 2]
    assert all(t["gib_per_s"] > 0 and t["cpu_s_per_gib"] > 0 for t in limits["loopback_tcp"])
    assert limits["memcpy"]["gib_per_s"] > 0
    assert set(results["tls"]) == {"migemu", "qemu"}

    cases = {c["key"]: c for c in results["cases"]}
    zc = cases["migemu/64M/ch2/zc/none/plain/idle/prealloc/file"]
    busy = cases["migemu/64M/ch2/nozc/none/plain/wl32M/prealloc/file"]
    for case in (zc, busy):
        assert "skipped" not in case
        (run,) = case["runs"]
        assert run["status"] == "completed" and run["verified"] is True
        assert run["digest_src"] == run["digest_dst"] and len(run["digest_src"]) == 64
        assert run["normal_pages"] >= 16384 and run["passes"] >= 2
        assert run["progress"] and run["progress"][-1][1] == 0
        assert run["mem_src_kib"]["VmHWM"] * 1024 > 64 << 20
        for metric in ("gib_per_s", "total_time_ms", "wall_s"):
            assert _positive(case["summary"][metric]), metric
        assert case["summary"]["cpu_both_s_per_gib"]["median"] >= 0
        assert case["vs_limit"] > 0
    assert busy["runs"][0]["bad_pages"] == 0
    # Image without workload: the destination holds exactly the random image.
    qemu = cases["qemu/64M/ch2/zc/none/plain/idle/prealloc/file"]
    if qemu_binary() is None:
        assert "qemu-system-x86_64" in qemu["skipped"]
    else:
        assert qemu["runs"][0]["verified"] is True
        assert qemu["runs"][0]["digest_dst"] == zc["runs"][0]["digest_dst"]
        assert zc["vs_qemu"] > 0

    md = (out / "results.md").read_text()
    assert "## Machine limits" in md and "| product | RAM |" in md
    assert md.count("| migemu | 64M |") == 2
    for png in results["plots"]:
        assert os.path.getsize(png) > 1000
