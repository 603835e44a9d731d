"""One benchmark migration: start a destination and a source (migemu or QEMU 7.2), configure
both over QMP, migrate, sample progress, then measure and verify.

Guest RAM layouts (`Case.ram`):
  file  the source maps a random image (memory-backend-file, share=off: the same bytes for both
        products, the image itself is never written; prealloc=on, so its RAM is resident like
        a running guest's before the migration starts); the destination's RAM is a new file in
        /dev/shm (memory-backend-file, share=on), so its content can be hashed even for QEMU,
        which has no x-query-ram-digest. `dest=prealloc` adds prealloc=on (every page faulted
        in before the migration starts), `dest=fresh` leaves it sparse (first-touch faults
        during the migration).
  anon  migemu only: anonymous RAM (-m), the source filled by the workload's prefill, the
        destination's with or without -mem-prealloc. No files: this is how the
        8 GiB cases fit on a machine with 24 GiB of memory.

Verification: migemu's x-query-ram-digest on both sides (the source's taken after it stopped,
the destination's after `stop`), plus the workload's own per-page check (`bad-pages`); for a
QEMU destination the SHA-256 of its RAM file; for a QEMU source (no workload: `-M none` has no
vCPU to dirty memory) the image's SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

from procstat import GIB, MIB, cpu_seconds, memory_kib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from qmp import QMPClient, QMPError  # noqa: E402

DOWNTIME_LIMIT_MS = 300  # QEMU's default, set explicitly on both products
MAX_BANDWIDTH = 64 << 30  # bytes/s: unlimited in practice (QEMU's default is 32 MiB/s)
POLL_S = 0.05


@dataclass(frozen=True)
class Case:
    product: str = "migemu"  # migemu | qemu
    size: int = 1 << 30  # guest RAM bytes
    channels: int = 2  # multifd channels; 0 = main stream only
    zero_copy: bool = False
    compression: str = "none"  # none | zlib | zstd
    tls: bool = False
    workload: int = 0  # bytes/s the guest dirties; 0 = idle
    dest: str = "prealloc"  # prealloc | fresh
    ram: str = "file"  # file | anon

    def key(self) -> str:
        size = f"{self.size >> 30}G" if self.size >= 1 << 30 else f"{self.size >> 20}M"
        parts = [self.product, size, f"ch{self.channels}", "zc" if self.zero_copy else "nozc",
                 self.compression, "tls" if self.tls else "plain",
                 f"wl{self.workload >> 20}M" if self.workload else "idle", self.dest, self.ram]
        return "/".join(parts)

    def config(self) -> Dict[str, Any]:
        return {"product": self.product, "size_mib": self.size >> 20, "channels": self.channels,
                "zero_copy": self.zero_copy, "compression": self.compression, "tls": self.tls,
                "workload_mib_s": self.workload >> 20, "dest": self.dest, "ram": self.ram}

    def other_product(self) -> "Case":
        return replace(self, product="qemu" if self.product == "migemu" else "migemu")


class Skip(Exception):
    """A case that cannot run here, with the reason (printed and recorded)."""


@dataclass
class Env:
    """What every run shares: binaries, the scratch directory, images, TLS material."""

    migemu: str
    qemu: Optional[str]
    workdir: str
    verbose: bool = False
    images: Dict[int, Tuple[str, str]] = field(default_factory=dict)  # size -> (path, sha256)
    tls_dir: Optional[str] = None
    tls_skip: Dict[str, str] = field(default_factory=dict)  # product -> reason
    perf_dir: Optional[str] = None  # profile every run with `perf record` into this directory
    qemu_missing: str = "qemu-system-x86_64 is not installed"  # why `qemu` is None
    qemu_skip: Dict[str, str] = field(default_factory=dict)  # feature -> reason

    def binary(self, product: str) -> str:
        if product == "qemu":
            if self.qemu is None:
                raise Skip(self.qemu_missing)
            return self.qemu
        return self.migemu

    def image(self, size: int) -> Tuple[str, str]:
        """A file of `size` random bytes (made once per run of the bench) and its SHA-256."""
        if size not in self.images:
            path = os.path.join(self.workdir, f"random-{size >> 20}M.img")
            h = hashlib.sha256()
            rng = random.Random(size)  # reproducible; neither zero nor compressible
            with open(path, "wb") as f:
                left = size
                while left:
                    chunk = rng.randbytes(min(left, 8 * MIB))
                    f.write(chunk)
                    h.update(chunk)
                    left -= len(chunk)
            self.images[size] = (path, h.hexdigest())
        return self.images[size]


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(8 * MIB)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


class Proc:
    """One migemu or QEMU process with its QMP socket; stopped by stop() (quit, then SIGKILL)."""

    def __init__(self, binary: str, rundir: str, name: str, args: List[str]) -> None:
        self.name = name
        self.sock = os.path.join(rundir, f"{name}.qmp")
        self.log_path = os.path.join(rundir, f"{name}.log")
        self.argv = [binary, "-nodefaults", "-display", "none",
                     "-qmp", f"unix:{self.sock},server=on,wait=off", *args]
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self.qmp: Optional[QMPClient] = None
        try:
            self.qmp = QMPClient(self.sock, timeout=120, connect_timeout=60,
                                 alive=lambda: self.popen.poll() is None)
        except Exception as e:
            self.stop()
            raise RuntimeError(f"{name} did not start: {e}; output: {self.log()}") from e

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cmd(self, name: str, args: Optional[Dict[str, Any]] = None, **kw: Any) -> Any:
        assert self.qmp is not None
        return self.qmp.cmd(name, args, **kw)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-2000:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.qmp is not None:
            try:
                if self.popen.poll() is None:
                    self.qmp.cmd("quit")
            except Exception:  # noqa: BLE001 - it may have died already; SIGKILL follows
                pass
            self.qmp.close()
            self.qmp = None
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def make_tls_dir(workdir: str) -> str:
    """CA, server (127.0.0.1) and client certificates with certtool, in QEMU's file names."""
    certtool = shutil.which("certtool")
    if certtool is None:
        raise Skip("certtool is not installed (apt-get install gnutls-bin)")
    d = os.path.join(workdir, "tls")
    os.makedirs(d, exist_ok=True)
    templates = {
        "ca.info": "cn = migemu bench CA\nca\ncert_signing_key\nexpiration_days = 7\n",
        "server.info": "organization = migemu\ncn = 127.0.0.1\nip_address = 127.0.0.1\n"
                       "dns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\n"
                       "expiration_days = 7\n",
        "client.info": "organization = migemu\ncn = client\ntls_www_client\nencryption_key\n"
                       "signing_key\nexpiration_days = 7\n",
    }
    for name, text in templates.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)

    def run(*args: str) -> None:
        subprocess.run([certtool, *args], cwd=d, check=True, capture_output=True)

    run("--generate-privkey", "--outfile", "ca-key.pem")
    run("--generate-self-signed", "--load-privkey", "ca-key.pem", "--template", "ca.info",
        "--outfile", "ca-cert.pem")
    for who in ("server", "client"):
        run("--generate-privkey", "--outfile", f"{who}-key.pem")
        run("--generate-certificate", "--load-privkey", f"{who}-key.pem", "--load-ca-certificate",
            "ca-cert.pem", "--load-ca-privkey", "ca-key.pem", "--template", f"{who}.info",
            "--outfile", f"{who}-cert.pem")
    return d


def probe_tls(env: Env) -> None:
    """Decides whether each product can run the TLS cases: a tls-creds-x509 object-add on a
    small idle machine must succeed (it fails on a migemu built without TLS credentials)."""
    try:
        env.tls_dir = make_tls_dir(env.workdir)
    except (Skip, subprocess.CalledProcessError) as e:
        for p in ("migemu", "qemu"):
            env.tls_skip[p] = f"no TLS material: {e}"
        return
    for product in ("migemu", "qemu"):
        try:
            binary = env.binary(product)
        except Skip as e:
            env.tls_skip[product] = str(e)
            continue
        rundir = tempfile.mkdtemp(prefix="probe-", dir=env.workdir)
        proc = None
        try:
            proc = Proc(binary, rundir, "probe", ["-M", "none", "-m", "16M"])
            proc.cmd("object-add", {"qom-type": "tls-creds-x509", "id": "probe0",
                                    "endpoint": "server", "dir": env.tls_dir})
        except QMPError as e:
            env.tls_skip[product] = f"{product} has no tls-creds-x509 objects: object-add said " \
                                    f"'{e}'"
        except (RuntimeError, OSError) as e:
            env.tls_skip[product] = str(e)
        finally:
            if proc is not None:
                proc.stop()
            shutil.rmtree(rundir, ignore_errors=True)


def _ram_args(env: Env, case: Case, rundir: str, side: str) -> List[str]:
    size_m = f"{case.size >> 20}M"
    if case.ram == "anon":
        if case.product != "migemu":
            raise Skip("anonymous-RAM cases are migemu-only (QEMU's RAM could not be verified)")
        if side == "src":
            wl = f"dirty-rate={case.workload},pattern=random,seed=7,prefill=on"
            return ["-M", "none", "-m", size_m, "-workload", wl]
        # The same -m RAM block as the source's (-mem-prealloc: every page faulted in first).
        return ["-M", "none", "-m", size_m] + (["-mem-prealloc"] if case.dest == "prealloc"
                                               else [])
    if side == "src":
        path, _ = env.image(case.size)
        # prealloc=on: every page resident before the migration, as a running guest's RAM is
        # (otherwise the source's first read of each page is a fault, timed as migration).
        args = ["-M", "none,memory-backend=ram0", "-object",
                f"memory-backend-file,id=ram0,size={size_m},mem-path={path},share=off,"
                "prealloc=on"]
        if case.workload:
            args += ["-workload", f"dirty-rate={case.workload},pattern=random,seed=7"]
        return args
    path = os.path.join(rundir, "dst.img")
    prealloc = ",prealloc=on" if case.dest == "prealloc" else ""
    return ["-M", "none,memory-backend=ram0", "-object",
            f"memory-backend-file,id=ram0,size={size_m},mem-path={path},share=on{prealloc}"]


def _configure(case: Case, src: Proc, dst: Proc, tls_dir: Optional[str]) -> None:
    caps = [{"capability": "events", "state": True}]
    if case.channels:
        caps.append({"capability": "multifd", "state": True})
    params: Dict[str, Any] = {"max-bandwidth": MAX_BANDWIDTH, "downtime-limit": DOWNTIME_LIMIT_MS}
    if case.channels:
        params["multifd-channels"] = case.channels
        params["multifd-compression"] = case.compression
    if case.tls:
        assert tls_dir is not None
        for proc, endpoint in ((src, "client"), (dst, "server")):
            proc.cmd("object-add", {"qom-type": "tls-creds-x509", "id": "tls0",
                                    "endpoint": endpoint, "dir": tls_dir})
        params["tls-creds"] = "tls0"
    for proc in (src, dst):
        proc.cmd("migrate-set-capabilities", {"capabilities": caps})
        proc.cmd("migrate-set-parameters", params)
    if case.zero_copy:
        src.cmd("migrate-set-capabilities",
                {"capabilities": [{"capability": "zero-copy-send", "state": True}]})


def check_case(env: Env, case: Case) -> None:
    """Raises Skip when the case cannot run on this machine or product."""
    env.binary(case.product)
    if case.product == "qemu" and case.workload:
        raise Skip("QEMU -M none has no vCPU to dirty memory: the workload axis is migemu's")
    if case.zero_copy and (case.channels == 0 or case.compression != "none" or case.tls):
        raise Skip("zero copy needs multifd without compression or TLS (QEMU's rule)")
    if case.compression != "none" and case.channels == 0:
        raise Skip("compression is a multifd method")
    if case.tls and case.product in env.tls_skip:
        raise Skip(env.tls_skip[case.product])
    if case.ram == "anon" and case.product != "migemu":
        raise Skip("anonymous-RAM cases are migemu-only (QEMU's RAM could not be verified)")
    reason = env.qemu_skip.get(case.compression) if case.product == "qemu" else None
    if reason:
        raise Skip(reason)


def run_once(env: Env, case: Case, timeout: Optional[float] = None) -> Dict[str, Any]:
    """One migration; returns the measurements (status, times, CPU, memory, digests)."""
    check_case(env, case)
    binary = env.binary(case.product)
    gib = case.size / GIB
    if timeout is None:
        per_gib = 240.0 if case.compression == "zlib" else 60.0
        timeout = 60.0 + per_gib * gib
    if case.ram == "file":
        env.image(case.size)  # made before anything is timed
    rundir = tempfile.mkdtemp(prefix="run-", dir=env.workdir)
    uri = f"tcp:127.0.0.1:{free_port()}"
    dst = src = None
    result: Dict[str, Any] = {"case": case.key()}
    try:
        dst = Proc(binary, rundir, "dst",
                   [*_ram_args(env, case, rundir, "dst"), "-incoming", "defer"])
        src = Proc(binary, rundir, "src", _ram_args(env, case, rundir, "src"))
        try:
            _configure(case, src, dst, env.tls_dir)
        except QMPError as e:
            if case.product == "qemu" and case.compression != "none":
                env.qemu_skip[case.compression] = f"QEMU refused {case.compression}: {e}"
                raise Skip(env.qemu_skip[case.compression]) from e
            raise
        dst.cmd("migrate-incoming", uri=uri)
        if case.workload:
            time.sleep(0.3)  # the guest is busy before it moves
        profilers = _start_perf(env, case, src, dst)
        cpu0 = (cpu_seconds(src.pid), cpu_seconds(dst.pid))
        assert src.qmp is not None
        src.qmp.clear_events()
        t0 = time.monotonic()
        t0_wall = time.time()
        src.cmd("migrate", uri=uri)
        samples: List[List[float]] = []
        deadline = t0 + timeout
        while True:
            info = src.cmd("query-migrate")
            now = time.monotonic() - t0
            ram = info.get("ram", {})
            samples.append([round(now, 3), ram.get("remaining", case.size),
                            ram.get("transferred", 0), ram.get("dirty-sync-count", 0)])
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                src.cmd("migrate_cancel")
                raise RuntimeError(f"no completion within {timeout:.0f} s: {info}")
            time.sleep(POLL_S)
        # QEMU 7.2 shows `completed` a moment before migration_calculate_complete() has set
        # total-time, downtime and mbps (query-migrate then answers 0 for them): ask again.
        settle = time.monotonic() + 5
        while info["status"] == "completed" and not info.get("total-time") and \
                time.monotonic() < settle:
            time.sleep(0.01)
            info = src.cmd("query-migrate")
        if info["status"] != "completed":
            raise RuntimeError(f"migration {info['status']}: {info.get('error-desc', '')} "
                               f"{dst.log()}")
        while dst.cmd("query-migrate").get("status") != "completed":
            if time.monotonic() > deadline or dst.popen.poll() is not None:
                raise RuntimeError(f"the destination did not complete: {dst.log()}")
            time.sleep(0.01)
        wall = time.monotonic() - t0
        cpu1 = (cpu_seconds(src.pid), cpu_seconds(dst.pid))
        if profilers:
            result["profile"] = _stop_perf(profilers)
        # The source's STOP event (its QMP timestamp) marks the start of the stop-and-copy.
        stop_s = None
        for ev in src.qmp.events():
            if ev.get("event") == "STOP" and "timestamp" in ev:
                ts = ev["timestamp"]
                stop_s = ts["seconds"] + ts["microseconds"] / 1e6 - t0_wall
        result["stop_s"] = stop_s
        mem_src, mem_dst = memory_kib(src.pid), memory_kib(dst.pid)
        ram = info["ram"]
        result.update({
            "status": "completed",
            "total_time_ms": info["total-time"],
            "setup_time_ms": info.get("setup-time"),
            "downtime_ms": info.get("downtime"),
            "wall_s": wall,
            "gib_per_s": gib / (max(info["total-time"], 1) / 1000.0),
            "wire_gib_per_s": (ram["transferred"] / GIB) / (max(info["total-time"], 1) / 1000.0),
            "transferred": ram["transferred"],
            "normal_pages": ram["normal"],
            "zero_pages": ram["duplicate"],
            "passes": ram["dirty-sync-count"],
            "missed_zero_copy": ram.get("dirty-sync-missed-zero-copy", 0),
            "cpu_src_s": cpu1[0] - cpu0[0],
            "cpu_dst_s": cpu1[1] - cpu0[1],
            "cpu_src_s_per_gib": (cpu1[0] - cpu0[0]) / gib,
            "cpu_dst_s_per_gib": (cpu1[1] - cpu0[1]) / gib,
            "cpu_both_s_per_gib": (cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) / gib,
            "mem_src_kib": mem_src,
            "mem_dst_kib": mem_dst,
            "extra_src_mib": (mem_src["VmHWM"] * 1024 - case.size) / MIB,
            "extra_dst_mib": (mem_dst["VmHWM"] * 1024 - case.size) / MIB,
            "progress": samples,
        })
        result.update(_verify(env, case, src, dst, rundir))
        return result
    finally:
        for p in (src, dst):
            if p is not None:
                p.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def _start_perf(env: Env, case: Case, src: Proc, dst: Proc) -> List[Tuple[str, Any, str]]:
    """`perf record` (cpu-clock sampling, flat) attached to both processes, when asked for."""
    if env.perf_dir is None:
        return []
    perf = shutil.which("perf")
    if perf is None:
        raise Skip("--perf needs perf (apt-get install linux-perf)")
    out = []
    stem = case.key().replace("/", "_")
    for side, proc in (("src", src), ("dst", dst)):
        n = 1
        while os.path.exists(os.path.join(env.perf_dir, f"{stem}-{side}-{n}.data")):
            n += 1
        data = os.path.join(env.perf_dir, f"{stem}-{side}-{n}.data")
        # BENCH_PERF_ARGS adds perf record options (e.g. -g for call graphs).
        extra = os.environ.get("BENCH_PERF_ARGS", "").split()
        p = subprocess.Popen([perf, "record", "-q", "-F", "999", *extra, "-p", str(proc.pid),
                              "-o", data],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((side, p, data))
    time.sleep(0.5)  # perf attaches to every thread before the migration starts
    return out


def _stop_perf(profilers: List[Tuple[str, Any, str]]) -> Dict[str, List[str]]:
    """Stops the recorders (SIGINT, as perf expects) and returns each side's top symbols."""
    report: Dict[str, List[str]] = {}
    for side, p, data in profilers:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
        r = subprocess.run(["perf", "report", "--stdio", "--no-children", "--sort",
                            "dso,symbol", "--percent-limit", "1", "-i", data],
                           capture_output=True, text=True, timeout=300)
        # "12.34%  dso  [k] symbol  -  -" (the trailing IPC columns are empty without PMU).
        lines = [" ".join(re.sub(r"(\s+-)+\s*$", "", ln).split()) for ln in r.stdout.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        with open(data + ".txt", "w") as f:
            f.write(r.stdout)
        report[side] = lines[:25]
    return report


def _verify(env: Env, case: Case, src: Proc, dst: Proc, rundir: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if case.product == "migemu":
        s = src.cmd("x-query-ram-digest")
        dst.cmd("stop")
        d = dst.cmd("x-query-ram-digest")
        out["digest_src"], out["digest_dst"] = s["digest"], d["digest"]
        out["bad_pages"] = d.get("bad-pages", 0)
        ok = s["digest"] == d["digest"] and out["bad_pages"] == 0
        if case.ram == "file" and not case.workload:
            ok = ok and s["digest"] == env.image(case.size)[1]
    else:
        out["digest_src"] = env.image(case.size)[1]
        out["digest_dst"] = sha256_file(os.path.join(rundir, "dst.img"))
        ok = out["digest_src"] == out["digest_dst"]
    out["verified"] = ok
    return out


