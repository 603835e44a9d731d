#!/usr/bin/env python3
"""Prints "N passed, M failed" over the JUnit files of one scripts/check run (one or more build
directories, each file prefixed with the directory's name) and exits 1 when anything failed;
with --sanitize, every sanitizer report and every build that failed counts as a failure too. Test cases come from the JUnit XML (GoogleTest cases through meson, pytest
cases); a meson test that failed without reporting a failing case (a crash, a timeout, a
non-gtest test) counts as one failure of its own. Each failure is named on a "failed: " line
before the total, so a log cut to its tail still says what failed."""
import json
import os
import sys
import xml.etree.ElementTree as ET


def junit_counts(path: str, tag: str = "") -> tuple[int, int, set[str]]:
    passed = failed = 0
    failing_suites: set[str] = set()
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "skipped" in tags:
            continue
        if "failure" in tags or "error" in tags:
            failed += 1
            failing_suites.add(case.get("classname", ""))
            first = next(iter(c for c in case if c.tag in ("failure", "error")))
            message = (first.get("message") or "").splitlines()
            print(f"failed: {tag}{case.get('classname', '')}::{case.get('name', '')}"
                  + (f": {message[0][:200]}" if message else ""))
        else:
            passed += 1
    return passed, failed, failing_suites


def meson_counts(d: str, prefix: str) -> tuple[int, int]:
    """Cases of one build's meson run, plus meson tests that failed without a failing case."""
    passed = failed = 0
    junit = os.path.join(d, prefix + "meson.junit.xml")
    junit_failed = 0
    if os.path.exists(junit):
        passed, junit_failed, _ = junit_counts(junit, prefix)
        failed = junit_failed
    mj = os.path.join(d, prefix + "meson.json")
    if os.path.exists(mj):
        bad = 0
        with open(mj) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line)
                if r.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
                    bad += 1
                    print(f"failed: {prefix}meson test {r.get('name', '?')}: {r.get('result')}")
        failed += max(0, bad - junit_failed)
    elif not os.path.exists(junit):
        failed += 1  # meson produced nothing at all
    return passed, failed


def read_int(path: str) -> int:
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(f.read().strip() or 0)


def main() -> int:
    d = sys.argv[1]
    passed = failed = 0
    names = os.listdir(d)
    # One prefix per build directory ("build." ...); an empty prefix for the old flat layout.
    prefixes = sorted({n[: -len("meson.txt")] for n in names if n.endswith("meson.txt")})
    if not prefixes:
        prefixes = [""]
    for prefix in prefixes:
        a, b = meson_counts(d, prefix)
        passed += a
        failed += b
        p = os.path.join(d, prefix + "pytest.junit.xml")
        if os.path.exists(p):
            a, b, _ = junit_counts(p, prefix)
            passed += a
            failed += b
    # scripts/check --sanitize: each sanitizer report and each build that failed is a failure.
    reports = read_int(os.path.join(d, "sanitizer-reports"))
    builds = read_int(os.path.join(d, "failed-builds"))
    if reports:
        print(f"failed: {reports} sanitizer report(s)")
    if builds:
        print(f"failed: {builds} sanitizer build(s)")
    failed += reports + builds
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
