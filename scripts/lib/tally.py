#!/usr/bin/env python3
"""Prints "N passed, M failed" over the JUnit files of one scripts/check run (one or more build
directories, each file prefixed with the directory's name) and exits 1 when anything failed;
with --sanitize, every sanitizer report and every build that failed counts as a failure too.
Test cases come from the JUnit XML (GoogleTest cases through meson, pytest cases); a meson test
that failed without reporting a failing case (a crash, a timeout, a non-gtest test) counts as
one failure of its own. Each failure is named on a "failed: " line
before the total, so a log cut to its tail still says what failed.

A test that failed and then passed when scripts/check ran it once more (a functional case in
<build>.pytest-rerun.junit.xml, a meson test in <build>.meson-rerun.json and its cases in
<build>.meson-rerun.junit.xml) counts as passed and is named on a "flaky: " line; the total
then says how many were flaky. Sanitizer reports of either run still count.

    tally.py DIR                   the total of one scripts/check run
    tally.py --failed-nodes FILE   the pytest node ids of FILE's failing cases, one per line
    tally.py --failed-meson FILE   the names of the meson tests that failed in FILE (a
                                   testlog.json), one per line, as `meson test` takes them"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def outcome(case: ET.Element) -> str:
    """"skipped", "failed" (a failure or an error) or "passed"."""
    tags = {child.tag for child in case}
    if "skipped" in tags:
        return "skipped"
    return "failed" if "failure" in tags or "error" in tags else "passed"


def failing_cases(path: str) -> list[ET.Element]:
    return [c for c in ET.parse(path).getroot().iter("testcase") if outcome(c) == "failed"]


def case_id(case: ET.Element) -> str:
    return f"{case.get('classname', '')}::{case.get('name', '')}"


def node_id(case: ET.Element) -> str:
    """pytest's node id for a case: "tests.functional.test_x" + "t[p]" ->
    "tests/functional/test_x.py::t[p]" (a class, if any, follows the module)."""
    parts = case.get("classname", "").split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if os.path.exists(path):
            return "::".join([path, *parts[i:], case.get("name", "")])
    return "::".join(["/".join(parts) + ".py", case.get("name", "")])


def passed_cases(path: str) -> set[str]:
    """The ids of the cases that passed in a JUnit file (missing file: none)."""
    if not os.path.exists(path):
        return set()
    return {case_id(c) for c in ET.parse(path).getroot().iter("testcase")
            if outcome(c) == "passed"}


def junit_counts(path: str, tag: str = "",
                 passed_again: frozenset[str] | set[str] = frozenset()) -> tuple[int, int, int]:
    """(passed, failed, flaky) of one JUnit file; a failing case whose id is in
    ``passed_again`` (it passed when run again) is flaky and counts as passed."""
    passed = failed = flaky = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        result = outcome(case)
        if result == "passed":
            passed += 1
        elif result == "failed":
            first = next(c for c in case if c.tag in ("failure", "error"))
            message = (first.get("message") or "").splitlines()
            detail = f": {message[0][:200]}" if message else ""
            if case_id(case) in passed_again:
                passed += 1
                flaky += 1
                print(f"flaky: {tag}{case_id(case)} failed, then passed when run again{detail}")
            else:
                failed += 1
                print(f"failed: {tag}{case_id(case)}{detail}")
    return passed, failed, flaky


BAD_RESULTS = ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS")


def meson_results(path: str) -> dict[str, str]:
    """name -> result of each test in a meson testlog.json (missing file: none)."""
    results: dict[str, str] = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    results[r.get("name", "?")] = r.get("result", "?")
    return results


def meson_counts(d: str, prefix: str) -> tuple[int, int, int]:
    """(passed, failed, flaky) of one build's meson run: its cases, plus meson tests that failed
    without a failing case; a meson test that passed when run again is flaky."""
    passed = failed = flaky = 0
    first = meson_results(os.path.join(d, prefix + "meson.json"))
    again = meson_results(os.path.join(d, prefix + "meson-rerun.json"))
    recovered = [n for n, r in first.items() if r in BAD_RESULTS and again.get(n) == "OK"]
    # A meson test that crashed has one case of its own in meson's JUnit file, classname the
    # project, name the test ("migemu" :: "migemu:util / x"); it passed if the test did.
    passed_again = passed_cases(os.path.join(d, prefix + "meson-rerun.junit.xml"))
    passed_again |= {f"{n.split(':', 1)[0]}::{n}" for n in recovered}
    junit = os.path.join(d, prefix + "meson.junit.xml")
    junit_failed = 0
    if os.path.exists(junit):
        passed, junit_failed, flaky = junit_counts(junit, prefix, passed_again)
        failed = junit_failed
    if os.path.exists(os.path.join(d, prefix + "meson.json")):
        bad = 0
        for name, result in first.items():
            if result not in BAD_RESULTS:
                continue
            if name in recovered:
                print(f"flaky: {prefix}meson test {name}: {result}, then OK when run again")
            else:
                bad += 1
                print(f"failed: {prefix}meson test {name}: {result}")
        # Like a failure, a flaky meson test counts once, through its cases when they say so.
        failed += max(0, bad - junit_failed)
        extra = max(0, len(recovered) - flaky)
        passed += extra
        flaky += extra
    elif not os.path.exists(junit):
        failed += 1  # meson produced nothing at all
    return passed, failed, flaky


def read_int(path: str) -> int:
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(f.read().strip() or 0)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--failed-nodes":
        for case in failing_cases(sys.argv[2]):
            print(node_id(case))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--failed-meson":
        for name, result in meson_results(sys.argv[2]).items():
            if result in BAD_RESULTS:
                # "migemu:migration / multifd_sender" -> "migemu:multifd_sender"
                project = name.split(":", 1)[0] if ":" in name else ""
                test = name.rsplit(" / ", 1)[-1]
                print(f"{project}:{test}" if project else test)
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    passed = failed = flaky = 0
    names = os.listdir(d)
    # One prefix per build directory ("build." ...); an empty prefix for the old flat layout.
    prefixes = sorted({n[: -len("meson.txt")] for n in names if n.endswith("meson.txt")})
    if not prefixes:
        prefixes = [""]
    for prefix in prefixes:
        a, b, c = meson_counts(d, prefix)
        passed += a
        failed += b
        flaky += c
        p = os.path.join(d, prefix + "pytest.junit.xml")
        if os.path.exists(p):
            a, b, c = junit_counts(
                p, prefix, passed_cases(os.path.join(d, prefix + "pytest-rerun.junit.xml")))
            passed += a
            failed += b
            flaky += c
    # scripts/check --sanitize: each sanitizer report and each build that failed is a failure.
    reports = read_int(os.path.join(d, "sanitizer-reports"))
    builds = read_int(os.path.join(d, "failed-builds"))
    if reports:
        print(f"failed: {reports} sanitizer report(s)")
    if builds:
        print(f"failed: {builds} sanitizer build(s)")
    failed += reports + builds
    print(f"{passed} passed, {failed} failed" + (f", {flaky} flaky" if flaky else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
