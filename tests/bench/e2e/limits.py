"""The machine's limits, measured in the same run as the migrations they bound.

* Loopback TCP: N sender processes stream into N receiver processes over 127.0.0.1. Each
  receiver reads with recv_into() into a 256 MiB buffer it walks through, like a destination
  writing into guest RAM; each sender writes 4 MiB memoryviews with sendall(). Throughput is
  the bytes received over the senders' longest elapsed time; CPU seconds per GiB are the
  getrusage() deltas of every sender and receiver over the transfer (both sides together),
  the cost floor of moving a byte through the kernel's loopback on this machine.
* iperf3 (Debian's, only when it is installed): the same numbers from the standard tool, as a
  cross-check of the Python measurement.
* memcpy: one thread copying a 256 MiB bytearray into another (CPython's slice assignment is
  one memcpy()), i.e. the single-core DRAM copy bandwidth.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import time
from typing import Any, Dict, List

from procstat import GIB

CHUNK = 4 << 20
RECV_AREA = 256 << 20


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return float(ru.ru_utime + ru.ru_stime)


def _receiver(listener: socket.socket, ready_fd: int, report_fd: int) -> None:
    area = bytearray(b"\x01") * RECV_AREA  # touched: no first-touch faults while measuring
    view = memoryview(area)
    os.write(ready_fd, b"r")
    conn, _ = listener.accept()
    listener.close()
    cpu0 = _cpu()
    total = 0
    off = 0
    while True:
        n = conn.recv_into(view[off:off + CHUNK])
        if n == 0:
            break
        total += n
        off = (off + n) % (RECV_AREA - CHUNK)
    os.write(report_fd, json.dumps({"bytes": total, "cpu": _cpu() - cpu0}).encode())


def _sender(port: int, ready_fd: int, start_fd: int, duration: float, report_fd: int) -> None:
    buf = memoryview(bytearray(os.urandom(1 << 16)) * (CHUNK >> 16))
    sock = socket.create_connection(("127.0.0.1", port))
    os.write(ready_fd, b"s")
    os.read(start_fd, 1)
    cpu0 = _cpu()
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < duration:
        sock.sendall(buf)
        sent += CHUNK
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)  # the receiver closing: every byte has been read
    elapsed = time.monotonic() - t0
    report = {"bytes": sent, "elapsed": elapsed, "cpu": _cpu() - cpu0}
    os.write(report_fd, json.dumps(report).encode())


def _child(fn: Any, *args: Any) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except BaseException:  # noqa: BLE001 - a child must never return into the caller
            code = 1
        os._exit(code)
    return pid


def loopback_tcp(streams: int, duration: float) -> Dict[str, Any]:
    """GiB/s and CPU seconds per GiB (both sides) of `streams` parallel loopback TCP streams."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(streams)
    port = listener.getsockname()[1]
    rd, wr = os.pipe()
    ready_r, ready_w = os.pipe()
    start_r, start_w = os.pipe()
    receivers = [_child(_receiver, listener, ready_w, wr) for _ in range(streams)]
    listener.close()
    senders = [_child(_sender, port, ready_w, start_r, duration, wr) for _ in range(streams)]
    os.close(start_r)
    os.close(ready_w)
    ready = b""
    while len(ready) < 2 * streams:  # every receiver touched its buffer, every sender connected
        chunk = os.read(ready_r, 16)
        if not chunk:
            break
        ready += chunk
    os.close(ready_r)
    os.write(start_w, b"x" * streams)
    os.close(start_w)
    for pid in senders + receivers:
        os.waitpid(pid, 0)
    os.close(wr)
    data = b""
    while True:
        chunk = os.read(rd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(rd)
    reports: List[Dict[str, float]] = []
    dec = json.JSONDecoder()
    text = data.decode()
    i = 0
    while i < len(text):
        obj, i = dec.raw_decode(text, i)
        reports.append(obj)
    received = sum(r["bytes"] for r in reports if "elapsed" not in r)
    cpu = sum(r["cpu"] for r in reports)
    elapsed = max((r["elapsed"] for r in reports if "elapsed" in r), default=0.0)
    if len(reports) != 2 * streams or not elapsed:
        raise RuntimeError(f"loopback measurement lost a process ({len(reports)} reports)")
    gib = received / GIB
    return {"streams": streams, "gib_per_s": gib / elapsed, "cpu_s_per_gib": cpu / gib,
            "seconds": elapsed, "bytes": received}


def iperf3(streams: int, duration: float) -> Dict[str, Any]:
    """iperf3's loopback throughput with `streams` parallel streams (needs iperf3)."""
    binary = shutil.which("iperf3")
    if binary is None:
        return {"streams": streams, "skipped": "iperf3 is not installed"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([binary, "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = ""
        for _ in range(50):
            # -t takes whole seconds.
            r = subprocess.run([binary, "-c", "127.0.0.1", "-p", str(port), "-t",
                                str(max(1, round(duration))),
                                "-P", str(streams), "-J"], capture_output=True, text=True,
                               timeout=max(1, round(duration)) + 30)
            out = r.stdout
            if r.returncode == 0:
                break
            time.sleep(0.05)  # the server was not listening yet
        res = json.loads(out)
        bps = res["end"]["sum_received"]["bits_per_second"]
        return {"streams": streams, "gib_per_s": bps / 8 / GIB}
    except (ValueError, KeyError, subprocess.TimeoutExpired) as e:
        return {"streams": streams, "skipped": f"iperf3 failed: {e}"}
    finally:
        server.kill()
        server.wait()


def memcpy(duration: float) -> Dict[str, Any]:
    """Single-thread copy bandwidth between two 256 MiB buffers (bytes copied per second)."""
    size = 256 << 20
    src = bytearray(b"\x5a") * size
    dst = bytearray(b"\x00") * size
    dst[:] = src  # warm up
    n = 0
    t0 = time.monotonic()
    while True:
        dst[:] = src
        n += 1
        elapsed = time.monotonic() - t0
        if elapsed >= duration and n >= 2:
            break
    return {"gib_per_s": n * size / GIB / elapsed, "buffer_bytes": size}


def measure(duration: float, with_iperf: bool = True) -> Dict[str, Any]:
    tcp = [loopback_tcp(n, duration) for n in (1, 2)]
    best = max(tcp, key=lambda r: r["gib_per_s"])
    out: Dict[str, Any] = {
        "loopback_tcp": tcp,
        "loopback_tcp_best_gib_per_s": best["gib_per_s"],
        "memcpy": memcpy(max(0.2, duration / 2)),
    }
    if with_iperf:
        out["iperf3"] = [iperf3(n, duration) for n in (1, 2)]
    return out
