"""scripts/lib/tally.py, the counter behind every "N passed, M failed" line of scripts/check and
.ci/run: it counts JUnit cases, meson tests that failed without a failing case and sanitizer
reports, and names each failure on a "failed: " line (CI keeps only the tail of a log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TALLY = os.path.join(ROOT, "scripts", "lib", "tally.py")

JUNIT = """<testsuites><testsuite>
<testcase classname="test_x" name="test_ok"/>
<testcase classname="test_x" name="test_skip"><skipped/></testcase>
<testcase classname="test_x" name="test_bad"><failure message="AssertionError: 1 != 2&#10;tail">tb</failure></testcase>
</testsuite></testsuites>"""


def _tally(d) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TALLY, str(d)], capture_output=True, text=True,
                          timeout=30)


def test_all_passing(tmp_path):
    (tmp_path / "build.meson.txt").write_text("")
    (tmp_path / "build.meson.json").write_text(json.dumps({"name": "a", "result": "OK"}) + "\n")
    (tmp_path / "build.pytest.junit.xml").write_text(
        '<testsuite><testcase classname="c" name="n"/></testsuite>')
    r = _tally(tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["1 passed, 0 failed"]


def test_failures_are_named_before_the_total(tmp_path):
    (tmp_path / "build.meson.txt").write_text("")
    (tmp_path / "build.meson.json").write_text(
        json.dumps({"name": "channel_test", "result": "TIMEOUT"}) + "\n")
    (tmp_path / "build.pytest.junit.xml").write_text(JUNIT)
    (tmp_path / "sanitizer-reports").write_text("2\n")
    r = _tally(tmp_path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[-1] == "1 passed, 4 failed"
    assert "failed: build.meson test channel_test: TIMEOUT" in lines
    assert "failed: build.test_x::test_bad: AssertionError: 1 != 2" in lines
    assert "failed: 2 sanitizer report(s)" in lines
    assert not any("test_skip" in line for line in lines)


def test_a_failure_that_passes_when_run_again_is_flaky(tmp_path):
    (tmp_path / "build.meson.txt").write_text("")
    (tmp_path / "build.meson.json").write_text(json.dumps({"name": "a", "result": "OK"}) + "\n")
    (tmp_path / "build.pytest.junit.xml").write_text(JUNIT)
    r = _tally(tmp_path)
    assert r.stdout.splitlines()[-1] == "1 passed, 1 failed"
    # Run again: test_bad passes.
    (tmp_path / "build.pytest-rerun.junit.xml").write_text(
        '<testsuite><testcase classname="test_x" name="test_bad"/></testsuite>')
    r = _tally(tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "flaky: build.test_x::test_bad failed, then passed when run again: AssertionError: 1 != 2",
        "2 passed, 0 failed, 1 flaky",
    ]
    # Run again: test_bad fails again.
    (tmp_path / "build.pytest-rerun.junit.xml").write_text(
        '<testsuite><testcase classname="test_x" name="test_bad"><failure message="again"/>'
        '</testcase></testsuite>')
    r = _tally(tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "1 passed, 1 failed"


def test_failed_nodes_are_pytest_node_ids(tmp_path):
    (tmp_path / "tests" / "functional").mkdir(parents=True)
    (tmp_path / "tests" / "functional" / "test_y.py").write_text("")
    (tmp_path / "r.xml").write_text("""<testsuite>
<testcase classname="tests.functional.test_y" name="test_ok"/>
<testcase classname="tests.functional.test_y" name="test_p[2ch-zlib]"><error message="e"/></testcase>
<testcase classname="tests.functional.test_y.TestGroup" name="test_m"><failure/></testcase>
<testcase classname="tests.functional.test_y" name="test_s"><skipped/><failure/></testcase>
</testsuite>""")
    r = subprocess.run([sys.executable, TALLY, "--failed-nodes", "r.xml"], capture_output=True,
                       text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["tests/functional/test_y.py::test_p[2ch-zlib]",
                                     "tests/functional/test_y.py::TestGroup::test_m"]
