#!/usr/bin/env python3
"""The stress scenarios of ./scripts/stress (docs/reliability.md), against one build of migemu
(normally a sanitizer build: the caller points ASAN_OPTIONS/TSAN_OPTIONS log_path at a report
directory and counts the reports).

    stress.py --build build-asan --iterations 2000 [--scenarios cancel,kill,...] [--seed 1]

Scenarios (each repeated --iterations times):
  cancel     migrate_cancel at a random moment (setup, active, completion) of a rate-limited
             migration; the source must end `cancelled` (or `completed` when it won the race),
             with its guest running and RAM intact
  kill       the destination is SIGKILLed at a random moment; the source must end `failed`
             (or `completed`), guest running, RAM intact
  refused    migrate to a port nobody listens on, plain and multifd; `failed` with QEMU's
             "Connection refused" text
  multifd    multifd early failures: a random point of channel creation fails on the source
             (multifd.send.connect/connected/init) or the destination (multifd.recv.init), or
             the migration is cancelled while channels connect
  tls        TLS anonymous-client rejection: one x509 destination with verify-peer=on stays up
             while a source without a client certificate migrates to it again and again (and
             every third time cancels at a random moment of the handshake); the source must
             end `failed` (or `cancelled`), the destination must keep listening in `inmigrate`;
             at the end a source with a certificate migrates to that same destination
  qmp        QMP abuse (run once per --iterations 1000): connect/disconnect cycles, clients
             that vanish mid-command, a 64 MiB input, deep nesting, invalid UTF-8; the process
             must answer query-status after each

A source serves many iterations: after each, it must still answer QMP, run its guest and
(every tenth iteration, and at the end) have the RAM digest it started with; at the end of a
scenario it migrates completely to a fresh destination (equal digests) and is shut down with
SIGTERM, which must end it with status 0 (LeakSanitizer runs then). Any migration that does not
reach a final state within 60 s is a hang. Prints one line per scenario and
"N passed, M failed" (scenarios) at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import sys
import tempfile
import time
import traceback
from typing import Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from machine import Machine, free_tcp_port  # noqa: E402
from migration_util import random_ram_args, ram_backend_args, set_caps  # noqa: E402
from qmp import QMPClient  # noqa: E402

RAM_MIB = 16
FINAL = ("completed", "failed", "cancelled")


class StressFailure(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise StressFailure(what)


def wait_final(vm: Machine, timeout: float = 60.0) -> Dict[str, object]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = vm.query_migrate()
        if info.get("status") in FINAL:
            return info
        time.sleep(0.005)
    raise StressFailure(f"hang: {vm.name} still {vm.query_migrate().get('status')} after {timeout} s")


class Source:
    """A long-lived source with static random RAM (so its digest must never change)."""

    def __init__(self, workdir: str, caps: Optional[Dict[str, bool]] = None) -> None:
        self.vm = Machine(args=random_ram_args(workdir, RAM_MIB), name="src", timeout=60).launch()
        self.caps = caps or {}
        if self.caps:
            set_caps(self.vm, **self.caps)
        self.digest = self.vm.cmd("x-query-ram-digest")["digest"]

    def healthy(self, full: bool) -> None:
        status = self.vm.query_status()["status"]
        check(status == "running", f"source guest is {status}, not running")
        if full:
            check(self.vm.cmd("x-query-ram-digest")["digest"] == self.digest,
                  "source RAM changed")

    def finish(self, workdir: str, caps: Dict[str, bool]) -> None:
        """A complete migration to a fresh destination, then a clean SIGTERM exit."""
        self.vm.cmd("x-clear-faults")
        self.vm.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 34, "downtime-limit": 300})
        dst = destination(caps)
        try:
            self.vm.cmd("migrate", uri=dst.uri)
            info = wait_final(self.vm)
            check(info["status"] == "completed", f"final migration: {info}")
            dst.vm.wait_migration(("completed",), timeout=30)
            dst.vm.cmd("stop")
            check(dst.vm.cmd("x-query-ram-digest")["digest"] == self.digest,
                  "final migration: digests differ")
        finally:
            dst.vm.shutdown()
        code = self.vm.shutdown(grace=30)
        check(code == 0, f"source exited with {code} after SIGTERM: {self.vm.stderr_text()[-2000:]}")


class Destination:
    def __init__(self, vm: Machine, uri: str) -> None:
        self.vm = vm
        self.uri = uri


def destination(caps: Dict[str, bool], fault: Optional[Dict[str, object]] = None) -> Destination:
    vm = Machine(args=[*ram_backend_args(RAM_MIB), "-incoming", "defer"], name="dst",
                 timeout=60).launch()
    if caps:
        set_caps(vm, **caps)
        if caps.get("multifd"):
            vm.cmd("migrate-set-parameters", {"multifd-channels": 2})
    if fault:
        vm.cmd("x-inject-fault", fault)
    uri = f"tcp:127.0.0.1:{free_tcp_port()}"
    vm.cmd("migrate-incoming", uri=uri)
    return Destination(vm, uri)


def end_destination(dst: Destination) -> None:
    """A destination of a failed or cancelled migration exits by itself (status 1) or waits;
    it must never crash. Its exit status is checked, then it is removed."""
    deadline = time.monotonic() + 10
    while dst.vm.is_running() and time.monotonic() < deadline:
        try:
            if dst.vm.query_migrate().get("status") in ("completed", None):
                break
        except Exception:
            pass
        time.sleep(0.01)
    code = dst.vm.exitcode if not dst.vm.is_running() else None
    dst.vm.shutdown(grace=30)
    check(code in (None, 0, 1, -signal.SIGKILL),
          f"destination died with {code}: {dst.vm.stderr_text()[-2000:]}")


def iterate(name: str, iterations: int, rng: random.Random, workdir: str,
            caps: Dict[str, bool], one: Callable[[Source, int], str]) -> Dict[str, int]:
    src = Source(workdir, caps)
    outcomes: Dict[str, int] = {}
    try:
        for i in range(iterations):
            outcome = one(src, i)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "completed":
                # The source is in postmigrate now: start over with a fresh one.
                src.vm.shutdown(grace=30)
                check(src.vm.exitcode == 0, f"source exit {src.vm.exitcode}")
                src = Source(workdir, caps)
                continue
            src.healthy(full=i % 10 == 9)
        src.healthy(full=True)
        src.finish(workdir, caps)
    finally:
        src.vm.shutdown(grace=30)
    return outcomes


def scenario_cancel(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    def one(src: Source, i: int) -> str:
        dst = destination({})
        try:
            # ~250 ms at 64 MiB/s; a small downtime limit keeps it iterating until the end.
            src.vm.cmd("migrate-set-parameters", {"max-bandwidth": 64 << 20, "downtime-limit": 5})
            src.vm.cmd("migrate", uri=dst.uri)
            time.sleep(rng.uniform(0, 0.35))
            src.vm.cmd("migrate_cancel")
            info = wait_final(src.vm)
            check(info["status"] in ("cancelled", "completed"), f"after cancel: {info}")
            return str(info["status"])
        finally:
            end_destination(dst)
    return iterate("cancel", iterations, rng, workdir, {}, one)


def scenario_kill(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    def one(src: Source, i: int) -> str:
        dst = destination({})
        src.vm.cmd("migrate-set-parameters", {"max-bandwidth": 64 << 20, "downtime-limit": 5})
        src.vm.cmd("migrate", uri=dst.uri)
        time.sleep(rng.uniform(0, 0.35))
        os.kill(dst.vm.pid, signal.SIGKILL)
        info = wait_final(src.vm)
        dst.vm.shutdown()
        check(info["status"] in ("failed", "completed"), f"after the kill: {info}")
        if info["status"] == "failed":
            check(bool(info.get("error-desc")), f"no error-desc: {info}")
        return str(info["status"])
    return iterate("kill", iterations, rng, workdir, {}, one)


def scenario_refused(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    def one(src: Source, i: int) -> str:
        multifd = i % 2 == 1
        set_caps(src.vm, multifd=multifd)
        port = free_tcp_port()
        src.vm.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        info = wait_final(src.vm)
        check(info == {"status": "failed", "error-desc":
                       f"Failed to connect to '127.0.0.1:{port}': Connection refused"},
              f"refused: {info}")
        set_caps(src.vm, multifd=False)
        return "failed"
    outcomes = iterate("refused", iterations, rng, workdir, {}, one)
    return outcomes


MULTIFD_SOURCE_POINTS = ["multifd.send.connect", "multifd.send.connected", "multifd.send.init"]


def scenario_multifd(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    caps = {"multifd": True}

    def one(src: Source, i: int) -> str:
        src.vm.cmd("migrate-set-parameters", {"multifd-channels": 2, "max-bandwidth": 64 << 20})
        kind = i % 3
        fault = None
        if kind == 0:
            src.vm.cmd("x-inject-fault", point=rng.choice(MULTIFD_SOURCE_POINTS),
                       after=rng.randrange(2))
        elif kind == 1:
            fault = {"point": "multifd.recv.init", "after": rng.randrange(2)}
        dst = destination(caps, fault)
        try:
            src.vm.cmd("migrate", uri=dst.uri)
            if kind == 2:
                time.sleep(rng.uniform(0, 0.02))  # while the channels connect
                src.vm.cmd("migrate_cancel")
            info = wait_final(src.vm)
            src.vm.cmd("x-clear-faults")
            check(info["status"] in ("failed", "cancelled", "completed"), f"multifd: {info}")
            if info["status"] == "failed":
                check(bool(info.get("error-desc")), f"no error-desc: {info}")
            return str(info["status"])
        finally:
            end_destination(dst)
    return iterate("multifd", iterations, rng, workdir, caps, one)


def qmp_alive(vm: Machine) -> None:
    with QMPClient(vm.qmp_path(1), timeout=60) as c:
        check(c.cmd("query-status")["status"] == "running", "query-status after abuse")


def raw_client(vm: Machine) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(vm.qmp_path(1))
    s.recv(4096)  # greeting
    return s


def read_lines(s: socket.socket, n: int) -> List[bytes]:
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\r\n")[:n]


def scenario_qmp(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    vm = Machine(args=["-m", "16M"], name="qmp", qmp_sockets=2, timeout=60).launch()
    counts: Dict[str, int] = {}
    try:
        cycles = max(1, iterations // 2)
        for _ in range(cycles):  # connect/disconnect, with and without negotiation
            with QMPClient(vm.qmp_path(1), timeout=60, negotiate=rng.random() < 0.5):
                pass
        counts["connect-cycles"] = cycles
        for i in range(max(1, iterations // 10)):  # vanish mid-command
            s = raw_client(vm)
            s.sendall(b'{"execute": "qmp_capabilities"}\n')
            if i % 3 == 0:
                s.sendall(b'{"execute": "query-qmp-schema"}\n')  # big answer nobody reads
            elif i % 3 == 1:
                s.sendall(b'{"execute": "query-commands", "argu')  # half a request
            else:
                s.sendall(b'{"execute": "query-status"}\n' * 200)
            s.close()
        counts["vanished"] = max(1, iterations // 10)
        qmp_alive(vm)
        s = raw_client(vm)
        s.sendall(b'{"execute": "qmp_capabilities"}\n')
        read_lines(s, 1)
        # A 64 MiB string token: over QEMU's token size limit.
        s.sendall(b'{"execute": "' + b"a" * (64 << 20) + b'"}\n')
        s.sendall(b'{"execute": "query-status", "id": 7}\n')
        lines = read_lines(s, 2)
        check(b"JSON token size limit exceeded" in lines[0] or b"error" in lines[0],
              f"64 MiB input: {lines[0][:200]!r}")
        # Deep nesting, over the 1024 limit, then invalid UTF-8.
        s.sendall(b"[" * 100000 + b"]" * 100000 + b"\n")
        s.sendall(b'{"execute": "query-status", "id": "\xff\xfe\xc0\x80"}\n')
        s.sendall(b'{"execute": "query-status", "id": 8}\n')
        deadline = time.monotonic() + 60
        buf = b""
        while b'"id": 8' not in buf and time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        check(b'"id": 8' in buf, "no answer after deep nesting and invalid UTF-8")
        check(b"JSON nesting depth limit exceeded" in buf, "nesting limit not reported")
        s.close()
        counts["big-inputs"] = 3
        qmp_alive(vm)
        code = vm.shutdown(grace=30)
        check(code == 0, f"QMP machine exited with {code}")
    finally:
        vm.shutdown(grace=30)
    return counts


def scenario_tls(iterations: int, rng: random.Random, workdir: str) -> Dict[str, int]:
    import tls_certs  # certtool (gnutls-bin): the functional tests' PKI
    dirs = tls_certs.make_all(os.path.join(workdir, "pki"))

    def creds(vm: Machine, role: str, endpoint: str) -> None:
        vm.cmd("object-add", {"qom-type": "tls-creds-x509", "id": "tls0", "dir": dirs[role],
                              "endpoint": endpoint})
        vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})

    dst = Machine(args=[*ram_backend_args(RAM_MIB), "-incoming", "defer"], name="dst",
                  timeout=60).launch()
    creds(dst, "server", "server")
    uri = f"tcp:127.0.0.1:{free_tcp_port()}"
    dst.cmd("migrate-incoming", uri=uri)
    src = Source(workdir)
    creds(src.vm, "client-anon", "client")
    src.vm.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 30})
    outcomes: Dict[str, int] = {}
    try:
        for i in range(iterations):
            src.vm.cmd("migrate", uri=uri)
            if i % 3 == 2:
                time.sleep(rng.uniform(0, 0.01))
                src.vm.cmd("migrate_cancel")
            info = wait_final(src.vm)
            check(info["status"] in ("failed", "cancelled"), f"anon client: {info}")
            if info["status"] == "failed":
                check(bool(info.get("error-desc")), f"no error-desc: {info}")
            outcomes[str(info["status"])] = outcomes.get(str(info["status"]), 0) + 1
            src.healthy(full=i % 10 == 9)
            check(dst.is_running(), f"destination exited: {dst.stderr_text()[-2000:]}")
            check(dst.query_status()["status"] == "inmigrate", "destination left inmigrate")
        check("Verify failed: No certificate was found." in dst.stderr_text(),
              "the destination did not report the refused client")
        src.vm.cmd("object-del", id="tls0")
        creds(src.vm, "client", "client")
        src.vm.cmd("migrate", uri=uri)
        info = wait_final(src.vm)
        check(info["status"] == "completed", f"certified client: {info}")
        dst.wait_migration(("completed",), timeout=30)
        dst.cmd("stop")
        check(dst.cmd("x-query-ram-digest")["digest"] == src.digest, "digests differ")
        code = src.vm.shutdown(grace=30)
        check(code == 0, f"source exited with {code}: {src.vm.stderr_text()[-2000:]}")
        code = dst.shutdown(grace=30)
        check(code == 0, f"destination exited with {code}: {dst.stderr_text()[-2000:]}")
    finally:
        src.vm.shutdown(grace=30)
        dst.shutdown(grace=30)
    return outcomes


SCENARIOS: Dict[str, Callable[[int, random.Random, str], Dict[str, int]]] = {
    "cancel": scenario_cancel,
    "kill": scenario_kill,
    "refused": scenario_refused,
    "multifd": scenario_multifd,
    "tls": scenario_tls,
    "qmp": scenario_qmp,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    os.environ["MIGEMU_BUILD"] = os.path.abspath(args.build)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="migemu-stress-") as workdir:
        for name in args.scenarios.split(","):
            rng = random.Random(args.seed)
            start = time.monotonic()
            try:
                outcomes = SCENARIOS[name](args.iterations, rng, workdir)
                passed += 1
                print(f"stress: {os.path.basename(args.build)} {name}: ok, "
                      f"{args.iterations} iterations in {time.monotonic() - start:.0f} s, "
                      f"outcomes {outcomes} (seed {args.seed})", flush=True)
            except Exception as e:  # noqa: BLE001: every failure is reported the same way
                failed += 1
                print(f"stress: {os.path.basename(args.build)} {name}: FAILED after "
                      f"{time.monotonic() - start:.0f} s (seed {args.seed}): {e}", flush=True)
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
