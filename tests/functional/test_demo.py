"""scripts/demo's program (scripts/lib/demo.py) on a small guest: the summary, the verdict and
the exit status (0 verified, 1 failed migration, 2 bad arguments)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from machine import migemu_binary

pytestmark = [pytest.mark.migemu_qmp]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "scripts", "lib", "demo.py")


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, DEMO, "--binary", migemu_binary(), *args],
                          capture_output=True, text=True, timeout=120)


def test_demo_verifies_and_summarises():
    r = demo("--size", "64M", "--dirty-rate", "16M")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "multifd 2 channels, compression none, zero-copy on, tcp:127.0.0.1:" in out
    for row in ("total time", "downtime", "throughput", "pages", "zero-copy fallbacks",
                "CPU, source", "CPU, destination"):
        assert f"  {row}" in out, row
    assert "100.0%" in out and "completed" in out
    assert "VERIFIED: the destination's RAM is identical to the source's." in out


def test_demo_unix_uri_turns_zero_copy_off(tmp_path):
    r = demo("--size", "32M", "--compression", "zstd", "--uri", f"unix:{tmp_path}/mig.sock")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compression zstd, zero-copy off, unix:" in r.stdout
    assert "VERIFIED" in r.stdout


def test_demo_failed_migration_exits_1(tmp_path):
    # MSG_ZEROCOPY exists only on TCP sockets: asked for explicitly on a Unix socket, the
    # migration fails with QEMU's text and the demo says so.
    r = demo("--size", "32M", "--zero-copy", "--uri", f"unix:{tmp_path}/mig.sock")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "migration failed: Zero copy send feature not detected in host kernel" in r.stdout


@pytest.mark.parametrize("args, text", [
    (["--uri", "exec:cat"], "is not tcp:HOST:PORT or unix:PATH"),
    (["--size", "lots"], "bad size 'lots'"),
    (["--channels", "-1"], "--channels must be between 0 and 255"),
])
def test_demo_bad_arguments(args, text):
    r = demo(*args)
    assert r.returncode == 2
    assert text in r.stderr
