#!/usr/bin/env python3
"""migemu demo: a live migration between two migemu processes on loopback.

Starts a destination and a source (a guest whose RAM is full of verifiable data and whose
workload keeps dirtying it), configures both over QMP (multifd, zero-copy send), migrates with a
live progress bar, then prints a summary and checks that the destination's RAM is the source's,
byte for byte. Exit status: 0 when the migration completed and the digests match, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from qmp import QMPClient, QMPError  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_size(text: str) -> int:
    units = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("/S")
    num = t.rstrip("KMGT")
    unit = t[len(num):]
    try:
        value = float(num) * units[unit]
    except (ValueError, KeyError):
        value = -1.0
    if not 0 <= value < 1 << 60:  # also NaN and infinity
        raise argparse.ArgumentTypeError(f"bad size '{text}' (e.g. 1G, 512M, 64M/s)")
    return int(value)


def demo_uri(text: str) -> str:
    """The demo listens on the destination itself: only socket URIs make sense."""
    if text.startswith("tcp:") and ":" in text[4:]:
        return text
    if text.startswith("unix:") and len(text) > 5:
        return text
    raise argparse.ArgumentTypeError(
        f"'{text}' is not tcp:HOST:PORT or unix:PATH (the demo's destination listens on it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Bar:
    """A single-line progress bar redrawn in place (plain text when not on a terminal)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.tty = sys.stdout.isatty()
        self.last_plain = 0.0
        self.width = min(shutil.get_terminal_size((100, 20)).columns, 120)

    def draw(self, info: Dict[str, Any], elapsed: float, guest_dirty: float = 0.0) -> None:
        ram = info.get("ram", {})
        status = info.get("status", "setup")
        remaining = ram.get("remaining", self.total)
        done = 1.0 - remaining / self.total if self.total and status != "setup" else 0.0
        if status == "completed":
            done = 1.0
        rate = ram.get("mbps", 0.0) * 1e6 / 8 / (1 << 30)
        # query-migrate's dirty-pages-rate needs a sync period of a second or more; until then
        # show what the guest's workload is writing right now (bytes/s).
        dirty = ram.get("dirty-pages-rate", 0) * ram.get("page-size", 4096) or guest_dirty
        passes = ram.get("dirty-sync-count", 0)
        text = (f" {done * 100:5.1f}%  {rate:5.2f} GiB/s  remaining {human(remaining):>10}  "
                f"pass {passes:<3} dirty {human(dirty)}/s  {status}")
        bar_width = max(10, self.width - len(text) - 3)
        filled = int(bar_width * done)
        line = "[" + "#" * filled + "-" * (bar_width - filled) + "]" + text
        if self.tty:
            sys.stdout.write("\r" + line[: self.width - 1].ljust(self.width - 1))
            sys.stdout.flush()
        elif elapsed - self.last_plain >= 1.0 or status == "completed":
            self.last_plain = elapsed
            print(line)

    def close(self) -> None:
        if self.tty:
            sys.stdout.write("\n")


def launch(binary: str, tmp: str, name: str, args: List[str]) -> Tuple[subprocess.Popen, str]:
    sock = os.path.join(tmp, f"{name}.qmp")
    log = open(os.path.join(tmp, f"{name}.log"), "wb")
    argv = [binary, "-M", "none", "-nodefaults", "-display", "none",
            "-qmp", f"unix:{sock},server=on,wait=off", *args]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    return proc, sock


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Live-migrate a busy migemu guest to another migemu on loopback and verify it.")
    ap.add_argument("--size", type=parse_size, default=parse_size("1G"),
                    help="guest RAM (default 1G)")
    ap.add_argument("--channels", type=int, default=2,
                    help="multifd channels; 0 for plain precopy (default 2)")
    ap.add_argument("--zero-copy", dest="zero_copy", action="store_true", default=None,
                    help="MSG_ZEROCOPY on the multifd channels (default for tcp: URIs)")
    ap.add_argument("--no-zero-copy", dest="zero_copy", action="store_false")
    ap.add_argument("--compression", choices=["none", "zlib", "zstd"], default="none",
                    help="multifd compression (zero copy is turned off with it, as QEMU requires)")
    ap.add_argument("--dirty-rate", type=parse_size, default=parse_size("64M"),
                    help="bytes per second the guest workload dirties (default 64M/s)")
    ap.add_argument("--uri", default=None, type=demo_uri,
                    help="migration URI: tcp:HOST:PORT or unix:PATH (default "
                         "tcp:127.0.0.1:<free port>); zero copy needs TCP")
    ap.add_argument("--max-bandwidth", type=parse_size, default=parse_size("16G"),
                    help="max-bandwidth per second (default 16G: unlimited in practice)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "migemu"))
    args = ap.parse_args()
    if args.channels < 0 or args.channels > 255:
        ap.error("--channels must be between 0 and 255")
    if args.size < 1 << 20:
        ap.error("--size must be at least 1M")

    uri = args.uri or f"tcp:127.0.0.1:{free_port()}"
    if args.zero_copy is None:
        # Zero copy is a TCP socket feature (MSG_ZEROCOPY); QEMU refuses it elsewhere too.
        args.zero_copy = uri.startswith("tcp:")
    if args.compression != "none" or args.channels == 0:
        args.zero_copy = False
    size_mb = args.size >> 20
    tmp = tempfile.mkdtemp(prefix="migemu-demo-")
    procs: List[subprocess.Popen] = []
    try:
        print(f"migemu demo: {human(args.size)} guest, workload dirtying {human(args.dirty_rate)}/s, "
              + (f"multifd {args.channels} channels, compression {args.compression}, "
                 f"zero-copy {'on' if args.zero_copy else 'off'}" if args.channels
                 else "plain precopy")
              + f", {uri}")
        dst, dst_sock = launch(args.binary, tmp, "destination",
                               ["-m", f"{size_mb}M", "-incoming", "defer"])
        procs.append(dst)
        src, src_sock = launch(args.binary, tmp, "source", [
            "-m", f"{size_mb}M",
            "-workload", f"dirty-rate={args.dirty_rate},pattern=random,seed=42,prefill=on"])
        procs.append(src)
        alive_src = lambda: src.poll() is None  # noqa: E731
        alive_dst = lambda: dst.poll() is None  # noqa: E731
        s = QMPClient(src_sock, timeout=30, alive=alive_src)
        d = QMPClient(dst_sock, timeout=30, alive=alive_dst)

        caps = [{"capability": "events", "state": True}]
        if args.channels:
            caps.append({"capability": "multifd", "state": True})
        params: Dict[str, Any] = {"max-bandwidth": args.max_bandwidth, "downtime-limit": 300}
        if args.channels:
            params["multifd-channels"] = args.channels
            params["multifd-compression"] = args.compression
        for vm in (s, d):
            vm.cmd("migrate-set-capabilities", {"capabilities": caps})
            vm.cmd("migrate-set-parameters", params)
        if args.zero_copy:
            s.cmd("migrate-set-capabilities",
                  {"capabilities": [{"capability": "zero-copy-send", "state": True}]})
        d.cmd("migrate-incoming", uri=uri)

        time.sleep(0.5)  # let the workload run a little: the guest is busy before it moves
        cpu0 = (cpu_seconds(src.pid), cpu_seconds(dst.pid))
        t0 = time.monotonic()
        s.cmd("migrate", uri=uri)
        bar = Bar(args.size)
        info: Dict[str, Any] = {}
        written: List[Tuple[float, int]] = []  # (time, workload pages written) samples
        while True:
            info = s.cmd("query-migrate")
            now = time.monotonic()
            written.append((now, s.cmd("x-query-workload")["pages-written"]))
            while len(written) > 2 and now - written[0][0] > 1.0:
                written.pop(0)
            span = written[-1][0] - written[0][0]
            guest_dirty = (written[-1][1] - written[0][1]) * 4096 / span if span > 0 else 0.0
            bar.draw(info, now - t0, guest_dirty)
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.1)
        bar.close()
        if info["status"] != "completed":
            print(f"\nmigration {info['status']}: {info.get('error-desc', '(no error text)')}")
            return 1
        end = time.monotonic() + 30
        while d.cmd("query-migrate").get("status") != "completed":
            if time.monotonic() > end or not alive_dst():
                print("\nthe destination did not complete")
                return 1
            time.sleep(0.05)
        wall = time.monotonic() - t0
        cpu1 = (cpu_seconds(src.pid), cpu_seconds(dst.pid))
        dst_status = d.cmd("query-status")["status"]

        # The source stopped at completion: its RAM is what the destination must hold.
        src_digest = s.cmd("x-query-ram-digest")
        d.cmd("stop")
        dst_digest = d.cmd("x-query-ram-digest")

        ram = info["ram"]
        gib = args.size / (1 << 30)
        moved = ram["transferred"]
        rows = [
            ("total time", f"{info['total-time']} ms (setup {info['setup-time']} ms)"),
            ("downtime", f"{info['downtime']} ms (limit 300 ms)"),
            ("throughput", f"{ram['mbps'] / 8 / 1024:.2f} GiB/s average ({ram['mbps']:.0f} Mbit/s)"),
            ("bytes moved", f"{human(moved)} for a {human(args.size)} guest "
                            f"(multifd {human(ram['multifd-bytes'])})"),
            ("pages", f"{ram['normal']} sent in full, {ram['duplicate']} zero, "
                      f"{ram['dirty-sync-count']} dirty-bitmap passes"),
            ("zero-copy fallbacks", f"{ram['dirty-sync-missed-zero-copy']} flushes all copied "
                                    "(loopback: the kernel always copies)"
             if args.zero_copy else "zero copy off"),
            ("CPU, source", f"{cpu1[0] - cpu0[0]:.2f} s ({(cpu1[0] - cpu0[0]) / gib:.2f} s/GiB)"),
            ("CPU, destination", f"{cpu1[1] - cpu0[1]:.2f} s ({(cpu1[1] - cpu0[1]) / gib:.2f} s/GiB)"),
            ("wall clock", f"{wall:.2f} s; destination is {dst_status}"),
        ]
        print()
        for k, v in rows:
            print(f"  {k:<20} {v}")
        same = src_digest["digest"] == dst_digest["digest"]
        clean = dst_digest["bad-pages"] == 0
        print()
        print(f"  source      sha256 {src_digest['digest']}")
        print(f"  destination sha256 {dst_digest['digest']}")
        print(f"  workload pages verified on the destination: {dst_digest['workload-pages']}, "
              f"bad: {dst_digest['bad-pages']}")
        if same and clean:
            print("\nVERIFIED: the destination's RAM is identical to the source's.")
            return 0
        print("\nMISMATCH: the destination's RAM differs from the source's.")
        return 1
    except (QMPError, OSError) as e:
        print(f"\ndemo failed: {e}")
        for name in ("source", "destination"):
            path = os.path.join(tmp, f"{name}.log")
            if os.path.exists(path) and os.path.getsize(path):
                print(f"--- {name} output:\n" + open(path, errors="replace").read())
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
