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


def test_a_meson_test_that_passes_when_run_again_is_flaky(tmp_path):
    def meson(name, *results):
        return "".join(json.dumps({"name": f"migemu:{s} / {n}", "result": r}) + "\n"
                       for (s, n), r in zip(name, results))

    tests = [("migration", "multifd_sender"), ("io", "channel"), ("util", "status")]
    (tmp_path / "build.meson.txt").write_text("")
    # multifd_sender failed through one of its cases; channel crashed (no case says so).
    (tmp_path / "build.meson.json").write_text(meson(tests, "FAIL", "FAIL", "OK"))
    (tmp_path / "build.meson.junit.xml").write_text("""<testsuites><testsuite>
<testcase classname="SenderTest" name="Ok"/>
<testcase classname="SenderTest" name="Racy"><failure message="sender_test.cc:528"/></testcase>
</testsuite></testsuites>""")
    # A crash with no earlier XML of the test: meson writes one case for the whole test.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    (crashed / "build.meson.txt").write_text("")
    (crashed / "build.meson.json").write_text(meson(tests[1:2], "FAIL"))
    (crashed / "build.meson.junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="migemu" name="migemu:io / channel">'
        '<failure message="killed by signal 6 SIGABRT"/></testcase></testsuite></testsuites>')
    assert _tally(crashed).stdout.splitlines()[-1] == "0 passed, 1 failed"
    (crashed / "build.meson-rerun.json").write_text(meson(tests[1:2], "OK"))
    (crashed / "build.meson-rerun.junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="ChannelTest" name="A"/></testsuite>'
        '</testsuites>')
    r = _tally(crashed)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 flaky"

    r = subprocess.run([sys.executable, TALLY, "--failed-meson", "build.meson.json"],
                       capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.stdout.splitlines() == ["migemu:multifd_sender", "migemu:channel"]
    r = _tally(tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "1 passed, 2 failed"

    # Run again: both pass. Each counts once, as flaky, named by case and by meson test.
    (tmp_path / "build.meson-rerun.json").write_text(meson(tests[:2], "OK", "OK"))
    (tmp_path / "build.meson-rerun.junit.xml").write_text("""<testsuites><testsuite>
<testcase classname="SenderTest" name="Ok"/><testcase classname="SenderTest" name="Racy"/>
</testsuite></testsuites>""")
    r = _tally(tmp_path)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines() == [
        "flaky: build.SenderTest::Racy failed, then passed when run again: sender_test.cc:528",
        "flaky: build.meson test migemu:migration / multifd_sender: FAIL, then OK when run again",
        "flaky: build.meson test migemu:io / channel: FAIL, then OK when run again",
        "3 passed, 0 failed, 2 flaky",
    ]

    # Run again: channel crashes again; it stays a failure.
    (tmp_path / "build.meson-rerun.json").write_text(meson(tests[:2], "OK", "FAIL"))
    r = _tally(tmp_path)
    assert r.returncode == 1
    assert "failed: build.meson test migemu:io / channel: FAIL" in r.stdout.splitlines()
    assert r.stdout.splitlines()[-1] == "2 passed, 1 failed, 1 flaky"
