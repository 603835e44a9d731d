#!/usr/bin/env python3
"""migemu's end-to-end benchmark: real migrations between two processes on loopback, migemu
and (when installed) QEMU 7.2, against the machine's own limits measured in the same run.

Run it through ./scripts/bench (installs what is missing, builds). Presets:
  --smoke     one 64 MiB case per product, one run, short limit probes (seconds; the test)
  --quick     1 GiB over channels 1/2/4/8 x zero copy off/on, compression and TLS at 2
              channels (256 MiB for compression), the workload at 2 channels; 3 runs (minutes)
  --full      the whole matrix: RAM 1G/2G x channels 1/2/4/8 x zero copy x compression
              none/zlib/zstd x TLS off/on x workload off/256M/s; 3 runs (hours: zlib
              moves random RAM at tens of MB/s)
  --targets   the issue 9 targets: 2 GiB, QEMU's best multifd case, fresh destination,
              workload below half the bandwidth, memory beyond guest RAM at 8 GiB/8 channels
  --scaling   RAM 1/2/4/8 GiB: migration time and dirty-bitmap sync time vs size, linear fits
Axis options (--sizes, --channels, ...) replace the preset's matrix with their product.
Output: DIR/results.json, DIR/results.md and DIR/*.png (DIR: --out, default
build/bench/<time>). Exit status: 0 when every run that was not skipped completed with equal
digests, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, Iterable, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import limits  # noqa: E402
import report  # noqa: E402
from procstat import GIB, MIB, linear_fit, parse_size, summary  # noqa: E402
from runner import (DOWNTIME_LIMIT_MS, ROOT, Case, Env, Skip, check_case,  # noqa: E402
                    probe_tls, run_once)

Matrix = Dict[str, List[Any]]


def machine_info() -> Dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "mem_total_gib": mem_kib / (1 << 20), "loadavg_start": loadavg()}


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def git_commit() -> str:
    try:
        r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def qemu_version(binary: Optional[str]) -> Optional[str]:
    if binary is None:
        return None
    r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return r.stdout.splitlines()[0] if r.stdout else None


# ---- presets ----------------------------------------------------------------------------------

def expand(m: Matrix) -> List[Case]:
    """Every valid combination of a matrix's axes (zero copy only without compression/TLS)."""
    out = []
    keys = list(m)
    for values in itertools.product(*(m[k] for k in keys)):
        c = Case(**dict(zip(keys, values)))
        if c.zero_copy and (c.compression != "none" or c.tls or c.channels == 0):
            continue
        if c.compression != "none" and c.channels == 0:
            continue
        out.append(c)
    return out


BOTH = ["migemu", "qemu"]


def preset_cases(name: str) -> List[Case]:
    g = 1 << 30
    if name == "smoke":
        return expand({"product": BOTH, "size": [64 * MIB], "channels": [2],
                       "zero_copy": [True]}) + \
            [Case(size=64 * MIB, channels=2, workload=32 * MIB)]
    if name == "quick":
        return (expand({"product": BOTH, "size": [g], "channels": [1, 2, 4, 8],
                        "zero_copy": [False, True]})
                + expand({"product": BOTH, "size": [256 * MIB], "channels": [2],
                          "compression": ["zlib", "zstd"]})
                + expand({"product": BOTH, "size": [g], "channels": [2], "tls": [True]})
                + [Case(size=g, channels=2, workload=256 * MIB)])
    if name == "full":
        return expand({"product": BOTH, "size": [g, 2 * g], "channels": [1, 2, 4, 8],
                       "zero_copy": [False, True], "compression": ["none", "zlib", "zstd"],
                       "tls": [False, True], "workload": [0, 256 * MIB]})
    raise ValueError(name)


def custom_cases(args: argparse.Namespace) -> List[Case]:
    m: Matrix = {
        "product": args.products,
        "size": args.sizes or [1 << 30],
        "channels": args.channels or [2],
        "zero_copy": args.zero_copy or [False],
        "compression": args.compression or ["none"],
        "tls": args.tls or [False],
        "workload": args.workload or [0],
        "dest": args.dest or ["prealloc"],
    }
    cases = expand(m)
    combos = 1
    for values in m.values():
        combos *= len(values)
    if combos > len(cases):
        print(f"bench: {combos - len(cases)} of {combos} combinations dropped: zero copy needs "
              "multifd without compression or TLS, compression needs multifd")
    return cases


# ---- running ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, env: Env, runs: int, results: Dict[str, Any]) -> None:
        self.env = env
        self.runs = runs
        self.results = results
        self.failures = 0
        self.by_key: Dict[str, Dict[str, Any]] = {}

    def run_cases(self, cases: Iterable[Case], runs: Optional[int] = None,
                  title: str = "") -> List[Dict[str, Any]]:
        """Runs every case `runs` times, interleaved (run 1 of every case, then run 2, ...), so
        a change in the machine's load spreads over all cases instead of hitting one."""
        runs = runs or self.runs
        todo: List[Dict[str, Any]] = []
        for case in cases:
            entry = self.by_key.get(case.key())
            if entry is None:
                entry = {"key": case.key(), "config": case.config(), "runs": [], "case": case}
                try:
                    check_case(self.env, case)
                except Skip as e:
                    entry["skipped"] = str(e)
                self.by_key[case.key()] = entry
                self.results["cases"].append(entry)
            todo.append(entry)
        if title:
            print(f"== {title}: {len(todo)} cases x {runs} runs")
        for entry in todo:
            if entry.get("skipped"):
                print(f"   skip {entry['key']}: {entry['skipped']}")
        for rep in range(runs):
            for entry in todo:
                # A case another group already ran keeps its runs (no extra ones).
                if entry.get("skipped") or len(entry["runs"]) > rep:
                    continue
                self._run(entry, rep, runs)
        for entry in todo:
            self._summarise(entry)
        return todo

    def _run(self, entry: Dict[str, Any], rep: int, runs: int) -> None:
        case: Case = entry["case"]
        try:
            r = run_once(self.env, case)
        except Skip as e:
            entry["skipped"] = str(e)
            print(f"   skip {entry['key']}: {e}")
            return
        except Exception as e:  # noqa: BLE001 - a failed run is a result, the bench goes on
            r = {"case": entry["key"], "status": "failed", "error": str(e)[:2000],
                 "verified": False}
        entry["runs"].append(r)
        if r.get("status") == "completed" and r.get("verified"):
            print(f"   {entry['key']} run {rep + 1}/{runs}: {r['gib_per_s']:.2f} GiB/s, "
                  f"{r['total_time_ms']} ms, downtime {r['downtime_ms']} ms, CPU "
                  f"{r['cpu_src_s_per_gib']:.2f}+{r['cpu_dst_s_per_gib']:.2f} s/GiB, "
                  f"RSS+{r['extra_src_mib']:.0f}/{r['extra_dst_mib']:.0f} MiB, passes "
                  f"{r['passes']}, verified", flush=True)
        else:
            self.failures += 1
            what = r.get("error") or "digests differ"
            print(f"   {entry['key']} run {rep + 1}/{runs}: FAILED: {what}", flush=True)

    @staticmethod
    def _summarise(entry: Dict[str, Any]) -> None:
        done = [r for r in entry["runs"] if r.get("status") == "completed"]
        entry["summary"] = {m: summary([r.get(m) for r in done]) for m in report.METRICS}


def add_ratios(results: Dict[str, Any]) -> None:
    lim = (results.get("limits") or {}).get("loopback_tcp_best_gib_per_s")
    by_key = {c["key"]: c for c in results["cases"]}
    for c in results["cases"]:
        s = c.get("summary") or {}
        if c.get("skipped") or not s.get("gib_per_s"):
            continue
        if lim:
            c["vs_limit"] = s["gib_per_s"]["median"] / lim
        if c["config"]["product"] != "migemu":
            continue
        other = by_key.get(c["case"].other_product().key())
        o = (other or {}).get("summary") or {}
        if other and not other.get("skipped") and o.get("gib_per_s"):
            c["vs_qemu"] = s["gib_per_s"]["median"] / o["gib_per_s"]["median"]
            if s.get("cpu_both_s_per_gib") and o.get("cpu_both_s_per_gib"):
                c["cpu_vs_qemu"] = (s["cpu_both_s_per_gib"]["median"]
                                    / o["cpu_both_s_per_gib"]["median"])


# ---- targets and scaling ----------------------------------------------------------------------

def med(entry: Optional[Dict[str, Any]], metric: str) -> Optional[float]:
    if not entry or entry.get("skipped"):
        return None
    s = (entry.get("summary") or {}).get(metric)
    return s["median"] if s else None


def run_targets(bench: Bench, runs: int, g2: int = 2 << 30, big: int = 8 << 30) -> None:
    """The issue 9 targets at RAM size `g2` (2 GiB) and the memory one at `big` (8 GiB)."""
    sz = report.size_label(g2 >> 20)
    results = bench.results
    targets: List[Dict[str, str]] = results.setdefault("targets", [])

    def verdict(ok: Optional[bool]) -> str:
        return "not measured" if ok is None else ("met" if ok else "MISSED")

    qemu_pre = bench.run_cases(expand({"product": ["qemu"], "size": [g2], "channels": [1, 2, 4, 8],
                                       "zero_copy": [False, True]}), runs,
                               f"targets: QEMU 7.2, {sz}, preallocated destination")
    mig_pre = bench.run_cases(expand({"product": ["migemu"], "size": [g2], "channels": [2],
                                      "zero_copy": [False, True]}), runs,
                              f"targets: migemu, {sz}, 2 channels, preallocated destination")
    qemu_fresh = bench.run_cases(expand({"product": ["qemu"], "size": [g2],
                                         "channels": [1, 2, 4, 8], "dest": ["fresh"]}), runs,
                                 f"targets: QEMU 7.2, {sz}, fresh destination")
    mig_fresh = bench.run_cases(expand({"product": ["migemu"], "size": [g2], "channels": [2],
                                        "zero_copy": [False, True], "dest": ["fresh"]}), runs,
                                f"targets: migemu, {sz}, 2 channels, fresh destination")

    def best(entries: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        ok = [e for e in entries if med(e, "gib_per_s")]
        return max(ok, key=lambda e: med(e, "gib_per_s") or 0) if ok else None

    lim = (results.get("limits") or {}).get("loopback_tcp_best_gib_per_s")
    mp, qp, mf, qf = best(mig_pre), best(qemu_pre), best(mig_fresh), best(qemu_fresh)

    def label(e: Optional[Dict[str, Any]]) -> str:
        return report.case_label(e["config"]) if e else "none"

    if mp and qp:
        ratio = (med(mp, "gib_per_s") or 0) / (med(qp, "gib_per_s") or 1)
        targets.append({"target": f">= 1.6x QEMU's best multifd case ({sz}, 2 ch, preallocated)",
                        "measured": f"{ratio:.2f}x: migemu {med(mp, 'gib_per_s'):.2f} GiB/s "
                                    f"({label(mp)}) vs QEMU {med(qp, 'gib_per_s'):.2f} GiB/s "
                                    f"({label(qp)})",
                        "verdict": verdict(ratio >= 1.6)})
    if mp and lim:
        share = (med(mp, "gib_per_s") or 0) / lim
        targets.append({"target": ">= 75% of the loopback TCP limit",
                        "measured": f"{share * 100:.0f}%: {med(mp, 'gib_per_s'):.2f} of "
                                    f"{lim:.2f} GiB/s", "verdict": verdict(share >= 0.75)})
    if mp:
        same = bench.by_key.get(mp["case"].other_product().key())
        for name, q in (("the same configuration", same), ("its best case", qp)):
            mc, qc = med(mp, "cpu_both_s_per_gib"), med(q, "cpu_both_s_per_gib")
            if mc and qc:
                targets.append({"target": f"CPU s/GiB (both sides) <= 60% of QEMU's ({name})",
                                "measured": f"{mc / qc * 100:.0f}%: {mc:.2f} vs {qc:.2f} s/GiB "
                                            f"(QEMU: {label(q)})",
                                "verdict": verdict(mc / qc <= 0.6)})
    if mf and qf:
        ratio = (med(mf, "gib_per_s") or 0) / (med(qf, "gib_per_s") or 1)
        targets.append({"target": ">= 2x QEMU's best with a fresh destination",
                        "measured": f"{ratio:.2f}x: {med(mf, 'gib_per_s'):.2f} vs "
                                    f"{med(qf, 'gib_per_s'):.2f} GiB/s (QEMU: {label(qf)})",
                        "verdict": verdict(ratio >= 2.0)})

    # Workload below half the bandwidth: 40% of what the same migration moves when idle.
    base = med(next((e for e in mig_pre if not e["config"]["zero_copy"]), None), "gib_per_s")
    rate = int((base or 1.0) * 0.4 * GIB) & ~(MIB - 1)
    wl = bench.run_cases([Case(size=g2, channels=2, workload=rate)], runs,
                         f"targets: workload at {rate >> 20} MiB/s (40% of the idle bandwidth)")
    e = wl[0]
    if not e.get("skipped"):
        done = [r for r in e["runs"] if r.get("status") == "completed" and r.get("verified")]
        worst = max((r["downtime_ms"] for r in done), default=None)
        ok = len(done) == len(e["runs"]) and worst is not None and worst <= DOWNTIME_LIMIT_MS
        targets.append({"target": f"workload below half the bandwidth converges, downtime <= "
                                  f"{DOWNTIME_LIMIT_MS} ms",
                        "measured": f"{len(done)}/{len(e['runs'])} converged and verified at "
                                    f"{rate >> 20} MiB/s; downtime max {worst} ms, median "
                                    f"{med(e, 'downtime_ms')} ms, passes {med(e, 'passes')}",
                        "verdict": verdict(ok)})

    bsz = report.size_label(big >> 20)
    big_cases = bench.run_cases([Case(size=big, channels=8, ram="anon")], max(1, min(runs, 2)),
                                f"targets: {bsz}, 8 channels, memory beyond guest RAM")
    e = big_cases[0]
    if not e.get("skipped") and e["runs"]:
        done = [r for r in e["runs"] if r.get("status") == "completed"]
        if done:
            src = max(r["extra_src_mib"] for r in done)
            dst = max(r["extra_dst_mib"] for r in done)
            targets.append({"target": f"memory beyond guest RAM < 64 MiB at {bsz} / 8 channels",
                            "measured": f"source {src:.1f} MiB, destination {dst:.1f} MiB "
                                        f"(VmHWM - {bsz}, worst run)",
                            "verdict": verdict(src < 64 and dst < 64)})


def bitmap_sync_points(build: str) -> List[Dict[str, float]]:
    """BM_BitmapSync/<GiB>/<dirty> from the ram_bench micro-benchmark, in ms per sync."""
    exe = os.path.join(build, "tests", "bench", "ram_bench")
    if not os.access(exe, os.X_OK):
        return []
    r = subprocess.run([exe, "--benchmark_filter=BM_BitmapSync", "--benchmark_format=json",
                        "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return []
    rows: Dict[int, Dict[str, float]] = {}
    for b in json.loads(r.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        # BM_BitmapSync/GiB:<n>/permille:<dirty permille>/real_time
        parts = [p.split(":")[-1] for p in b["run_name"].split("/")]
        gib, permille = int(parts[1]), int(parts[2])
        ms = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        row = rows.setdefault(gib, {"gib": gib})
        row["all_ms" if permille == 1000 else "sparse_ms"] = ms
    return [rows[k] for k in sorted(rows) if "all_ms" in rows[k] and "sparse_ms" in rows[k]]


def run_scaling(bench: Bench, runs: int, build: str, channels: int, sizes: List[int]) -> None:
    names = "/".join(report.size_label(s >> 20) for s in sizes)
    entries = bench.run_cases([Case(size=s, channels=channels, ram="anon") for s in sizes],
                              runs, f"scaling: RAM {names}, {channels} channels")
    points = []
    for s, e in zip(sizes, entries):
        if med(e, "total_time_ms"):
            points.append({"gib": s / GIB, "total_time_ms": e["summary"]["total_time_ms"],
                           "extra_src_mib": e["summary"]["extra_src_mib"],
                           "extra_dst_mib": e["summary"]["extra_dst_mib"],
                           "cpu_both_s_per_gib": e["summary"]["cpu_both_s_per_gib"]})
    sc: Dict[str, Any] = {"points": points, "fits": {}}
    if len(points) >= 2:
        fit = linear_fit([(p["gib"], p["total_time_ms"]["median"]) for p in points])
        sc["fits"]["migration time"] = {**fit, "unit": "ms per GiB"}
    print("== scaling: dirty-bitmap sync (ram_bench BM_BitmapSync)")
    sync = bitmap_sync_points(build)
    sc["bitmap_sync"] = sync
    if len(sync) >= 2:
        sc["fits"]["bitmap sync, every page dirty"] = {
            **linear_fit([(p["gib"], p["all_ms"]) for p in sync]), "unit": "ms per GiB"}
        sc["fits"]["bitmap sync, 1% of pages dirty"] = {
            **linear_fit([(p["gib"], p["sparse_ms"]) for p in sync]), "unit": "ms per GiB"}
    elif not sync:
        sc["bitmap_sync_skipped"] = "build/tests/bench/ram_bench is missing (libbenchmark-dev)"
    for name, fit in sc["fits"].items():
        print(f"   {name}: {fit['slope']:.4g} {fit['unit']} (R² {fit['r2']:.4f})")
    bench.results["scaling"] = sc


# ---- main -------------------------------------------------------------------------------------

def csv(conv: Any) -> Any:
    def parse(text: str) -> List[Any]:
        try:
            return [conv(x) for x in text.split(",") if x]
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from e
    return parse


def size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def onoff(text: str) -> bool:
    if text in ("on", "yes", "true", "1"):
        return True
    if text in ("off", "no", "false", "0"):
        return False
    raise ValueError(f"expected on or off, got '{text}'")


def choice(*allowed: str) -> Any:
    def conv(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"'{text}' is not one of {', '.join(allowed)}")
        return text
    return conv


def parse_args(argv: List[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="scripts/bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1])
    p = ap.add_mutually_exclusive_group()
    p.add_argument("--smoke", action="store_const", dest="preset", const="smoke",
                   help="64 MiB, one run per product (seconds)")
    p.add_argument("--quick", action="store_const", dest="preset", const="quick",
                   help="the quick matrix (minutes; the default without other options)")
    p.add_argument("--full", action="store_const", dest="preset", const="full",
                   help="the whole matrix (hours)")
    ap.add_argument("--targets", action="store_true", help="measure the issue 9 targets")
    ap.add_argument("--scaling", action="store_true", help="RAM 1/2/4/8 GiB scaling check")
    ap.add_argument("--targets-size", type=size_arg, default=2 << 30,
                    help="RAM of the target cases (default 2G, as issue 9 says)")
    ap.add_argument("--targets-big-size", type=size_arg, default=8 << 30,
                    help="RAM of the memory-overhead target (default 8G)")
    ap.add_argument("--runs", type=int, default=None, help="runs per case (default 3; smoke 1)")
    ap.add_argument("--sizes", type=csv(parse_size), help="RAM sizes, e.g. 1G,2G")
    ap.add_argument("--channels", type=csv(int), help="multifd channels, e.g. 1,2,4,8 (0: none)")
    ap.add_argument("--zero-copy", type=csv(onoff), help="off,on")
    ap.add_argument("--compression", type=csv(choice("none", "zlib", "zstd")),
                    help="none,zlib,zstd")
    ap.add_argument("--tls", type=csv(onoff), help="off,on")
    ap.add_argument("--workload", type=csv(parse_size), help="dirty rates, e.g. 0,256M")
    ap.add_argument("--dest", type=csv(choice("prealloc", "fresh")), help="prealloc,fresh")
    ap.add_argument("--products", type=csv(choice("migemu", "qemu")), default=BOTH,
                    help="migemu,qemu (default both; QEMU only when installed)")
    ap.add_argument("--no-qemu", action="store_true", help="migemu only")
    ap.add_argument("--scaling-sizes", type=csv(parse_size),
                    default=[g << 30 for g in (1, 2, 4, 8)],
                    help="RAM sizes of the scaling check (default 1G,2G,4G,8G)")
    ap.add_argument("--scaling-channels", type=int, default=2,
                    help="multifd channels of the scaling runs (default 2)")
    ap.add_argument("--limit-seconds", type=float, default=None,
                    help="duration of each limit probe (default 3; smoke 0.3)")
    ap.add_argument("--no-limits", action="store_true", help="skip the machine-limit probes")
    ap.add_argument("--perf", action="store_true",
                    help="profile every run of both sides with perf record (cpu-clock); the "
                         "flat profiles land in OUT/perf/ and in results.json")
    ap.add_argument("--out", default=None, help="output directory (default build/bench/<time>)")
    ap.add_argument("--plots-dir", default=None, help="also copy the PNGs there")
    ap.add_argument("--build", default=os.environ.get("MIGEMU_BUILD", os.path.join(ROOT, "build")),
                    help="build directory holding migemu and ram_bench (default build)")
    ap.add_argument("--qemu-binary", default=os.environ.get("QEMU_BINARY")
                    or shutil.which("qemu-system-x86_64"), help="QEMU 7.2 to compare with")
    ap.add_argument("--workdir", default=None,
                    help="scratch directory for RAM images (default: a new one in /dev/shm)")
    args = ap.parse_args(argv)
    custom = any(getattr(args, a) for a in ("sizes", "channels", "zero_copy", "compression",
                                             "tls", "workload", "dest"))
    if custom and args.preset:
        ap.error("axis options replace the preset's matrix: give one or the other")
    if not (custom or args.preset or args.targets or args.scaling):
        args.preset = "quick"
    args.custom = custom
    for size in args.sizes or []:
        if size < 1 << 20 or size % (1 << 20):
            ap.error(f"--sizes: {size} bytes is not a whole number of MiB (at least 1M)")
    for ch in args.channels or []:
        if not 0 <= ch <= 255:
            ap.error(f"--channels: {ch} is not between 0 and 255")
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    migemu = os.path.join(args.build, "migemu")
    if not os.access(migemu, os.X_OK):
        print(f"bench: {migemu} does not exist (build it: ninja -C build)", file=sys.stderr)
        return 2
    qemu = None if args.no_qemu or "qemu" not in args.products else args.qemu_binary
    smoke = args.preset == "smoke"
    runs = args.runs or (1 if smoke else 3)
    started = datetime.datetime.now(datetime.timezone.utc)
    out = args.out or os.path.join(ROOT, "build", "bench", started.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    workdir = args.workdir or tempfile.mkdtemp(prefix="migemu-bench-", dir=base)
    env = Env(migemu=migemu, qemu=qemu, workdir=workdir)
    if args.no_qemu or "qemu" not in args.products:
        env.qemu_missing = "QEMU not selected (--no-qemu or --products)"
    if args.perf:
        env.perf_dir = os.path.join(out, "perf")
        os.makedirs(env.perf_dir, exist_ok=True)
    preset = args.preset or ("custom" if args.custom else "")
    results: Dict[str, Any] = {
        "meta": {"preset": ",".join(x for x in (preset, "targets" if args.targets else "",
                                                   "scaling" if args.scaling else "") if x),
                 "started": started.strftime("%Y-%m-%d %H:%M UTC"), "argv": argv,
                 "machine": machine_info(), "migemu_commit": git_commit(),
                 "qemu_version": qemu_version(qemu), "runs": runs,
                 "downtime_limit_ms": DOWNTIME_LIMIT_MS},
        "cases": [],
    }
    if qemu is None and "qemu" in args.products and not args.no_qemu:
        print("bench: qemu-system-x86_64 is not installed: the QEMU cases are skipped")
    bench = Bench(env, runs, results)
    try:
        if not args.no_limits:
            secs = args.limit_seconds or (0.3 if smoke else 3.0)
            print(f"== machine limits ({secs:g} s per probe)")
            results["limits"] = limits.measure(secs, with_iperf=not smoke)
            lim = results["limits"]
            print(f"   loopback TCP {lim['loopback_tcp_best_gib_per_s']:.2f} GiB/s (best of 1 and "
                  f"2 streams), memcpy {lim['memcpy']['gib_per_s']:.2f} GiB/s")
        probe_tls(env)
        results["tls"] = {p: env.tls_skip.get(p, "ok") for p in ("migemu", "qemu")}
        for p, why in env.tls_skip.items():
            print(f"   TLS axis, {p}: skipped: {why}")
        cases = preset_cases(args.preset) if args.preset else (custom_cases(args)
                                                               if args.custom else [])
        cases = [c for c in cases if c.product in args.products and
                 not (args.no_qemu and c.product == "qemu")]
        if cases:
            bench.run_cases(cases, runs, f"matrix ({preset})")
        if args.targets:
            run_targets(bench, runs, args.targets_size, args.targets_big_size)
        if args.scaling:
            run_scaling(bench, runs, args.build, args.scaling_channels, args.scaling_sizes)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["machine"]["loadavg_end"] = loadavg()
    add_ratios(results)
    for c in results["cases"]:
        c.pop("case", None)
    written, why = report.plots(results, out)
    if why:
        print(f"bench: {why}")
    results["plots"] = written
    if args.plots_dir:
        os.makedirs(args.plots_dir, exist_ok=True)
        for p in written:
            shutil.copy(p, args.plots_dir)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = report.markdown(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md + "\n")
    if results.get("targets"):
        print("== issue 9 targets")
        for t in results["targets"]:
            print(f"   {t['verdict']:>12}  {t['target']}: {t['measured']}")
    ran = sum(len(c["runs"]) for c in results["cases"])
    print(f"== {ran} runs, {bench.failures} failed; results in {out}/results.{{json,md}}"
          + (f", {len(written)} plots" if written else ""))
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
